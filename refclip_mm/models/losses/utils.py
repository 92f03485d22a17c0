"""Shared helpers of the losses: input checks and RoIAlign token grids."""
import torch


def check_tokens(name: str, x: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``x`` is a ``B x N x D`` tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor of shape B x N x D, got {type(x).__name__}')
    if x.dim() != 3:
        raise ValueError(f'{name} must be a 3-D tensor B x N x D (batch x tokens x channels); '
                         f'got shape {tuple(x.shape)}')


def check_token_pair(student: torch.Tensor, target: torch.Tensor,
                     names=('student', 'target')) -> None:
    """Raise a ``ValueError`` naming the mismatching dimension of two ``B x N x D`` tensors."""
    check_tokens(names[0], student)
    check_tokens(names[1], target)
    if student.shape == target.shape:
        return
    (bs, ns, ds), (bt, nt, dt) = student.shape, target.shape
    what = []
    if bs != bt:
        what.append(f'batch B {bs} vs {bt}')
    if ns != nt:
        what.append(f'tokens N {ns} vs {nt}')
    if ds != dt:
        what.append(f'channels D {ds} vs {dt}')
    raise ValueError(f'{names[0]} and {names[1]} must have the same shape B x N x D; got '
                     f'{tuple(student.shape)} and {tuple(target.shape)} ({", ".join(what)})')


def check_features(name: str, x: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``x`` is a ``K x D`` tensor."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f'{name} must be a 2-D tensor K x D; got {shape}')


def check_tau(tau: float) -> float:
    """Return ``float(tau)``; raise ``ValueError`` unless it is a positive finite number."""
    tau = float(tau)
    if not tau > 0 or tau == float('inf'):
        raise ValueError(f'temperature tau must be a positive finite number, got {tau}')
    return tau


def zero_loss(*tensors: torch.Tensor) -> torch.Tensor:
    """A scalar 0 connected to the graph of ``tensors`` (``backward`` works, DDP sees them)."""
    total = None
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            term = t.sum() * 0.0
            total = term if total is None else total + term
    if total is None:
        raise ValueError('zero_loss needs at least one floating-point tensor')
    return total.float()


def region_tokens(dense: torch.Tensor, rois: torch.Tensor, grid: int = 14,
                  spatial_scale: float = 1.0, sampling_ratio: int = 0,
                  aligned: bool = True) -> torch.Tensor:
    """RoIAlign each box of a dense map to a ``grid x grid`` token grid (region-level SCD tokens).

    Box convention: ``rois`` rows are ``(batch_index, x1, y1, x2, y2)`` and are multiplied by
    ``spatial_scale`` to land on the ``h x w`` feature grid. The project convention is boxes in
    **input-image pixels** with ``spatial_scale = 1 / patch_size`` (e.g. ``1/16``), exactly as
    the region features of :mod:`refclip_mm.clip.dense`; with the default ``spatial_scale=1.0``
    the boxes must already be in feature-grid units (a box ``(0, 0, w, h)`` covers the map).
    ``aligned=True`` treats a pixel as the unit square around its centre (no half-pixel shift).

    Args:
        dense: ``B x D x h x w`` dense feature map.
        rois: ``K x 5`` RoIs (see above); ``K`` may be 0.
        grid: output side ``g``; each box becomes ``g * g`` tokens.
        spatial_scale: factor from box coordinates to feature-grid coordinates.
        sampling_ratio: RoIAlign sampling points per bin side (0 = adaptive).
        aligned: RoIAlign ``aligned`` flag.

    Returns:
        ``K x g^2 x D`` tokens in row-major (y, then x) order, differentiable w.r.t. ``dense``.
    """
    from mmcv.ops import RoIAlign  # compiled op, imported lazily as elsewhere in the project
    if not isinstance(dense, torch.Tensor) or dense.dim() != 4:
        shape = tuple(dense.shape) if isinstance(dense, torch.Tensor) else type(dense).__name__
        raise ValueError(f'dense must be a B x D x h x w map, got {shape}')
    if not isinstance(rois, torch.Tensor) or rois.dim() != 2 or rois.shape[1] != 5:
        shape = tuple(rois.shape) if isinstance(rois, torch.Tensor) else type(rois).__name__
        raise ValueError('rois must be a K x 5 tensor of (batch_index, x1, y1, x2, y2), '
                         f'got {shape}')
    if int(grid) < 1:
        raise ValueError(f'grid must be a positive integer, got {grid}')
    grid = int(grid)
    channels = dense.shape[1]
    if rois.shape[0] == 0:
        return dense.new_zeros(0, grid * grid, channels) + zero_loss(dense).to(dense.dtype)
    if (rois[:, 0].min() < 0 or rois[:, 0].max() >= dense.shape[0]):
        raise ValueError(f'rois batch indices must lie in [0, {dense.shape[0] - 1}] for a map of '
                         f'batch {dense.shape[0]}; got range [{rois[:, 0].min().item():g}, '
                         f'{rois[:, 0].max().item():g}]')
    compute_dtype = _roi_align_dtype(dense)
    align = RoIAlign(output_size=grid, spatial_scale=float(spatial_scale),
                     sampling_ratio=int(sampling_ratio), aligned=aligned)
    rois = rois.to(device=dense.device, dtype=compute_dtype)
    out = align(dense.contiguous().to(compute_dtype), rois)
    return out.flatten(2).transpose(1, 2).to(dense.dtype)  # K x D x g x g -> K x g^2 x D


def _roi_align_dtype(dense: torch.Tensor) -> torch.dtype:
    """mmcv's CPU RoIAlign takes float32 only; CUDA also takes half/double."""
    if dense.device.type == 'cpu':
        return torch.float32
    return dense.dtype
