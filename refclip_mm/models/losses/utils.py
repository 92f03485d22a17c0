"""Shared helpers of the losses: input checks; the RoIAlign token grids of region-level losses
(:func:`region_tokens`) live with the other region code in :mod:`refclip_mm.utils.regions`."""
import torch

from ...utils.regions import region_tokens  # noqa: F401 (re-exported)


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
