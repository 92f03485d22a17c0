"""Boxes on images and dense maps: RoI rows, RoIAlign pooling and crops, in one place.

Every region computation of the package goes through here: the 1x1 region features of a
dense CLIP map (detection scores, RLA losses, ToyWorld box classification), the ``g x g``
token grids of region-level SCD and the Refiner's targets, and the crops cut out of images
for a frozen tower. Conventions:

* a RoI is a row ``(batch_index, x1, y1, x2, y2)``; ``K`` RoIs are a ``K x 5`` tensor;
* boxes are in input-image pixels; on a dense map of patch size ``p`` they are pooled with
  ``spatial_scale = 1 / p``;
* RoIAlign is mmcv's with ``aligned=True`` (a pixel is the unit square around its centre);
  its CPU kernel takes float32 only, so CPU inputs of another dtype (a bf16 map) are pooled
  in float32 and returned in their own dtype;
* mmcv's RoIAlign (CPU and CUDA) reads a map's memory as contiguous ``NCHW`` whatever its
  strides, so a channels-last map or a permuted view gives wrong features without an error:
  every map handed to it goes through :func:`as_nchw` (here, and in the detector's RoI head).

The module sits in ``utils`` (not ``models``) because the CLIP towers of
:mod:`refclip_mm.clip` use it and ``models`` imports them.
"""
from typing import Optional, Sequence, Tuple, Union

import torch

BoxesType = Union[torch.Tensor, Sequence[torch.Tensor]]
SizeType = Union[int, Tuple[int, int]]


def boxes_to_rois(boxes: BoxesType, batch_size: int, device: Optional[torch.device] = None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Per-image boxes -> ``K x 5`` RoI rows.

    Args:
        boxes: a list of ``batch_size`` tensors ``n_i x 4`` (``x1, y1, x2, y2``; an image
            without boxes gives an empty one), or a ``K x 5`` tensor of rows, returned as is.
        batch_size: the number of images ``B``.
        device, dtype: of the returned rows.

    Returns:
        ``K x 5`` rows ``(batch_index, x1, y1, x2, y2)``, the boxes of image 0 first.
    """
    if isinstance(boxes, torch.Tensor):
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise ValueError('a boxes tensor must be K x 5 (batch_index, x1, y1, x2, y2); got '
                             f'shape {tuple(boxes.shape)}. Pass a list of n_i x 4 tensors instead.')
        rois = boxes
    else:
        boxes = list(boxes)
        if len(boxes) != batch_size:
            raise ValueError(f'got boxes for {len(boxes)} images but the dense map has '
                             f'{batch_size}; pass one (possibly empty) n x 4 tensor per image')
        rows = []
        for index, image_boxes in enumerate(boxes):
            image_boxes = torch.as_tensor(image_boxes, device=device, dtype=dtype).reshape(-1, 4)
            rows.append(torch.cat([image_boxes.new_full((image_boxes.shape[0], 1), index),
                                   image_boxes], dim=1))
        rois = torch.cat(rows, dim=0)
    return rois.to(device=device, dtype=dtype)


def as_nchw(x: torch.Tensor) -> torch.Tensor:
    """``x`` laid out as mmcv's RoIAlign reads it: contiguous ``NCHW`` memory.

    mmcv's kernels index the raw memory of a ``B x C x H x W`` map as ``NCHW`` and ignore its
    strides; a channels-last map (``x.contiguous(memory_format=torch.channels_last)``, what
    convolutions return for channels-last inputs) or a permuted view is read scrambled. Returns
    ``x`` itself when it is already contiguous (no copy), else a contiguous copy (differentiable).
    """
    return x if x.is_contiguous() else x.contiguous()


def roi_align_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype RoIAlign runs in for ``x``: float32 on CPU (mmcv's CPU kernel takes no
    other), ``x``'s own dtype on CUDA (half, bfloat16 and double are supported there)."""
    if x.device.type == 'cpu':
        return torch.float32
    return x.dtype


def check_sampling_ratio(value: int, key: str = 'sampling_ratio') -> int:
    """Return ``int(value)`` if it is a valid RoIAlign sampling ratio (an integer ``>= 0``,
    0 = adaptive); otherwise raise naming the config ``key``."""
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f'{key} must be an integer >= 0 (RoIAlign sampling points per bin '
                         f'side, 0 = adaptive), got {value!r}')
    return int(value)


def roi_align(x: torch.Tensor, rois: torch.Tensor, output_size: SizeType,
              spatial_scale: float = 1.0, sampling_ratio: int = 0,
              aligned: bool = True) -> torch.Tensor:
    """mmcv RoIAlign (average pooling) of ``x`` over ``rois``, any dtype on CPU.

    Args:
        x: ``B x C x H x W`` map (a dense feature map or images), in any memory layout
            (:func:`as_nchw`).
        rois: ``K x 5`` rows ``(batch_index, x1, y1, x2, y2)``, scaled by ``spatial_scale``
            onto ``x``'s grid.
        output_size: ``s`` or ``(s_h, s_w)``.
        spatial_scale: box coordinates -> ``x``'s pixel coordinates.
        sampling_ratio: sampling points per bin side (0 = adaptive).
        aligned: RoIAlign's ``aligned`` flag.

    Returns:
        ``K x C x s_h x s_w`` in ``x``'s dtype, differentiable w.r.t. ``x``.
    """
    from mmcv.ops import roi_align as mmcv_roi_align  # compiled op, imported when used
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    dtype = roi_align_dtype(x)
    out = mmcv_roi_align(as_nchw(x).to(dtype), rois.to(device=x.device, dtype=dtype),
                         tuple(int(s) for s in output_size), float(spatial_scale),
                         int(sampling_ratio), 'avg', aligned)
    return out.to(x.dtype)


def region_features(dense: torch.Tensor, boxes: BoxesType, spatial_scale: float) -> torch.Tensor:
    """RoIAlign 1x1 features of boxes on a dense map (adaptive sampling).

    Args:
        dense: ``B x D x h x w`` map.
        boxes: per image ``n_i x 4`` boxes or ``K x 5`` rows (:func:`boxes_to_rois`).
        spatial_scale: box coordinates -> map cells (``1 / patch_size`` for image pixels).

    Returns:
        ``K x D`` features (not normalised), boxes of image 0 first.
    """
    rois = boxes_to_rois(boxes, dense.shape[0], device=dense.device, dtype=dense.dtype)
    if rois.shape[0] == 0:
        return dense.new_zeros(0, dense.shape[1])
    return roi_align(dense, rois, 1, spatial_scale, sampling_ratio=0).flatten(1)


def region_tokens(dense: torch.Tensor, rois: torch.Tensor, grid: int = 14,
                  spatial_scale: float = 1.0, sampling_ratio: int = 0,
                  aligned: bool = True) -> torch.Tensor:
    """RoIAlign each box of a dense map to a ``grid x grid`` token grid (region-level SCD tokens).

    Box convention: ``rois`` rows are ``(batch_index, x1, y1, x2, y2)`` and are multiplied by
    ``spatial_scale`` to land on the ``h x w`` feature grid. The project convention is boxes in
    **input-image pixels** with ``spatial_scale = 1 / patch_size`` (e.g. ``1/16``), exactly as
    :func:`region_features`; with the default ``spatial_scale=1.0`` the boxes must already be
    in feature-grid units (a box ``(0, 0, w, h)`` covers the map).

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
    if rois.shape[0] == 0:  # still connected to dense's graph: backward and DDP see it
        return dense.new_zeros(0, grid * grid, channels) + (dense.sum() * 0.0).to(dense.dtype)
    if (rois[:, 0].min() < 0 or rois[:, 0].max() >= dense.shape[0]):
        raise ValueError(f'rois batch indices must lie in [0, {dense.shape[0] - 1}] for a map of '
                         f'batch {dense.shape[0]}; got range [{rois[:, 0].min().item():g}, '
                         f'{rois[:, 0].max().item():g}]')
    out = roi_align(dense, rois, grid, spatial_scale, sampling_ratio, aligned)
    return out.flatten(2).transpose(1, 2)  # K x D x g x g -> K x g^2 x D


def crop_regions(images: torch.Tensor, rois: torch.Tensor, size: SizeType,
                 sampling_ratio: int) -> torch.Tensor:
    """Cut ``rois`` out of ``images`` and resize each crop to ``size`` (RoIAlign, pixels).

    Args:
        images: ``B x 3 x H x W``.
        rois: ``K x 5`` rows in image pixels.
        size: output side ``S`` or ``(S_h, S_w)``.
        sampling_ratio: sampling points per output pixel side (1 = bilinear resize; more
            average a neighbourhood, which anti-aliases shrinking crops; 0 = adaptive).

    Returns:
        ``K x 3 x S_h x S_w`` crops.
    """
    return roi_align(images, rois, size, 1.0, sampling_ratio)
