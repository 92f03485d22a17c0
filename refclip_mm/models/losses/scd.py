"""Spatial Correlation Distillation (SCD) loss, docs/method.md section 3, in row blocks.

For student tokens ``S`` and target tokens ``T`` (``B x N x D``, L2-normalised)::

    A_s = S . stopgrad(S)^T,  A_t = T . T^T                    (B x N x N)
    m(A) = (A - rowmin A) / (rowmax A - rowmin A + 1e-10)
    P = softmax(m(A) / tau)
    L = mean_{b,i} sum_j -P_t[b,i,j] * log(P_s[b,i,j] + 1e-10)

:func:`scd_loss_reference` is that formula on full ``N x N`` matrices. :class:`SCDLoss` gives the
same value and gradient but never holds more than a ``B x rows x N`` block: its autograd function
walks row blocks once, computing each block's loss *and* its gradient on the spot (the loss is a
scalar, so the gradient only needs the upstream scale, applied in ``backward``). The matrix
products are therefore the same three a full implementation does (``A_t``, ``A_s`` and
``dA_s . S``), and only the ``B x N x D`` gradient is kept between forward and backward.

Gradient conventions, identical to autograd on the reference: only the left factor of ``A_s``
carries gradient; the row min and max pass their gradient to the one position that
``torch.min``/``torch.max`` along the row return (with exact ties, which random real-valued
tokens do not produce, the chosen position may differ from the reference's).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from refclip_mm.registry import MODELS
from .utils import check_tau, check_token_pair

EPS = 1e-10
DEFAULT_BLOCK_BYTES = 8 * 2**20  # one B x rows x N float32 block; about five are alive at once


def _prepare(student: torch.Tensor, target: torch.Tensor,
             normalize: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """fp32 (fp64 stays fp64) copies, L2-normalised on the last dim if asked; target detached."""
    dtype = torch.float64 if torch.float64 in (student.dtype, target.dtype) else torch.float32
    s, t = student.to(dtype), target.detach().to(dtype)
    if normalize:
        s, t = F.normalize(s, dim=-1), F.normalize(t, dim=-1)
    return s, t


def _row_minmax(a: torch.Tensor) -> torch.Tensor:
    """``m(A)`` of the reference: per-row min-max normalisation of a ``... x N`` tensor."""
    low, high = a.min(-1, keepdim=True).values, a.max(-1, keepdim=True).values
    return (a - low) / (high - low + EPS)


def scd_loss_reference(student: torch.Tensor, target: torch.Tensor, tau: float = 0.2,
                       normalize: bool = True) -> torch.Tensor:
    """The SCD loss on full ``B x N x N`` matrices (straightforward; for tests and benchmarks).

    Args:
        student: ``B x N x D`` student tokens (gradient flows to them).
        target: ``B x N x D`` target tokens (detached).
        tau: softmax temperature.
        normalize: L2-normalise both inputs first.

    Returns:
        scalar fp32 loss.
    """
    check_token_pair(student, target)
    tau = check_tau(tau)
    s, t = _prepare(student, target, normalize)
    a_s = s @ s.detach().transpose(1, 2)
    with torch.no_grad():
        p_t = torch.softmax(_row_minmax(t @ t.transpose(1, 2)) / tau, dim=-1)
    p_s = torch.softmax(_row_minmax(a_s) / tau, dim=-1)
    return -(p_t * torch.log(p_s + EPS)).sum(-1).mean()


# ----------------------------------------------------------------------------- blockwise kernels


def _scaled_logits_(a: torch.Tensor, low: torch.Tensor, high: torch.Tensor, tau: float):
    """In place ``a -> z = m(a) / tau`` given the row ``low``/``high`` (``B x r x 1``).

    Returns ``(z, c)`` with ``c = 1 / (tau * (high - low + eps))`` so that ``z = (a - low) * c``.
    """
    c = (high - low + EPS).mul_(tau).reciprocal_()
    return a.sub_(low).mul_(c), c


def _rowdot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(x * y).sum(-1)`` for ``B x r x N`` tensors without the product temporary (``B x r``)."""
    return torch.matmul(x.unsqueeze(-2), y.unsqueeze(-1))[..., 0, 0]


def _teacher_probs(t_rows: torch.Tensor, t_all: torch.Tensor, tau: float) -> torch.Tensor:
    """``P_t`` for a block of rows: ``B x r x N``."""
    a = torch.bmm(t_rows, t_all.transpose(1, 2))
    z, _ = _scaled_logits_(a, *torch.aminmax(a, dim=-1, keepdim=True), tau)
    return torch.softmax(z, dim=-1)


def _scd_block(q: torch.Tensor, key: torch.Tensor, t_rows: torch.Tensor, t_all: torch.Tensor,
               tau: float, need_grad: bool):
    """Loss rows and (optionally) ``d rows.sum() / dq`` for one block of query rows.

    Args:
        q: ``B x r x D`` normalised student rows (the side carrying gradient).
        key: ``B x N x D`` normalised student tokens (the stop-gradient side).
        t_rows, t_all: the same for the target.

    Returns:
        ``(rows B x r, dq B x r x D or None)``.
    """
    p_t = _teacher_probs(t_rows, t_all, tau)
    a = torch.bmm(q, key.transpose(1, 2))
    if need_grad:  # torch.min/max(dim) semantics: one index per row receives the gradient
        low, i_low = a.min(-1, keepdim=True)
        high, i_high = a.max(-1, keepdim=True)
    else:
        low, high = torch.aminmax(a, dim=-1, keepdim=True)
    z, c = _scaled_logits_(a, low, high, tau)
    p_s = torch.softmax(z, dim=-1)
    log_p = p_s + EPS
    w = torch.mul(p_t, p_s).div_(log_p) if need_grad else None  # = -P_s * dL/dP_s
    rows = _rowdot(p_t, log_p.log_()).neg_()
    del p_t, log_p
    if not need_grad:
        return rows, None
    # softmax backward: dz = P_s * sum(w) - w; the buffer holds -dz.
    neg_dz = w.addcmul_(p_s, w.sum(-1, keepdim=True), value=-1.0)
    del p_s
    # m = (a - low) / rng:  dm_j/da_j = 1/rng, dm_j/dlow = (m_j - 1)/rng, dm_j/dhigh = -m_j/rng.
    # With dm = dz/tau and m = tau*z: sum_j dm_j m_j = sum_j dz_j z_j, and sum_j dm_j = 0
    # (softmax gradients sum to zero), so dlow = -dhigh = sum_j dz_j z_j * tau * c.
    d_high = _rowdot(neg_dz, z).unsqueeze(-1).mul_(c).mul_(tau)
    da = neg_dz.mul_(c.neg())
    da.scatter_add_(-1, i_low, d_high.neg())
    da.scatter_add_(-1, i_high, d_high)
    return rows, torch.bmm(da, key)


def auto_block_rows(batch: int, num_tokens: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """Rows per block so that one ``batch x rows x num_tokens`` fp32 block is ~``block_bytes``."""
    return int(max(1, min(num_tokens, block_bytes // max(1, 4 * batch * num_tokens))))


class _BlockwiseSCD(torch.autograd.Function):
    """Mean SCD loss of ``query`` rows against ``key`` (stop-gradient) and target tokens.

    Inputs are normalised fp32 ``B x N x D`` tensors; ``key`` and ``target`` must not require
    gradient. The gradient w.r.t. ``query`` is computed block by block during forward.
    """

    @staticmethod
    def forward(ctx, query, key, target, tau, block_rows):
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            raise RuntimeError('_BlockwiseSCD: key and target are constants; pass detached tensors')
        need_grad = ctx.needs_input_grad[0]
        batch, num, _ = query.shape
        scale = 1.0 / (batch * num)
        grad = torch.empty_like(query) if need_grad else None
        total = query.new_zeros((), dtype=torch.float64)
        with torch.autocast(device_type=query.device.type, enabled=False):
            for start in range(0, num, block_rows):
                stop = min(num, start + block_rows)
                rows, dq = _scd_block(query[:, start:stop], key, target[:, start:stop], target,
                                      tau, need_grad)
                total += rows.sum(dtype=torch.float64)
                if need_grad:
                    grad[:, start:stop] = dq.mul_(scale)
        if need_grad:
            ctx.save_for_backward(grad)
        return (total * scale).to(query.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None, None


def scd_loss(student: torch.Tensor, target: torch.Tensor, tau: float = 0.2,
             normalize: bool = True, block_size: Optional[int] = None,
             block_bytes: int = DEFAULT_BLOCK_BYTES) -> torch.Tensor:
    """Blockwise SCD loss (same value and gradient as :func:`scd_loss_reference`).

    Args:
        student: ``B x N x D`` student tokens, any float dtype (computed in fp32).
        target: ``B x N x D`` target tokens (detached: no gradient reaches them).
        tau: softmax temperature (> 0).
        normalize: L2-normalise both inputs along ``D`` first (autograd handles this part).
        block_size: rows per block; ``None`` picks it from ``block_bytes``.
        block_bytes: size budget of one ``B x rows x N`` fp32 block when ``block_size`` is None.

    Returns:
        scalar fp32 loss.
    """
    check_token_pair(student, target)
    tau = check_tau(tau)
    batch, num, _ = student.shape
    if block_size is None:
        rows = auto_block_rows(batch, num, block_bytes)
    elif int(block_size) >= 1:
        rows = min(int(block_size), num)
    else:
        raise ValueError(f'block_size must be a positive number of rows or None, got {block_size}')
    s, t = _prepare(student, target, normalize)
    if num == 0 or batch == 0:  # no boxes: a zero that keeps the graph
        return s.sum() * 0.0
    return _BlockwiseSCD.apply(s, s.detach(), t, tau, rows)


@torch.no_grad()
def correlation_agreement(student: torch.Tensor, target: torch.Tensor,
                          block_size: Optional[int] = None) -> torch.Tensor:
    """How alike the token-correlation structures of student and target are (a log metric).

    For each row ``i`` of the cosine-correlation matrices ``A_s = S S^T`` and ``A_t = T T^T``
    (normalised tokens), the Pearson correlation between ``A_s[b, i, j]`` and ``A_t[b, i, j]``
    over ``j != i`` (the diagonal is 1 on both sides and is left out); averaged over ``b, i``.
    1 means identical structure, 0 unrelated. Computed in row blocks, no gradient.

    Args:
        student, target: ``B x N x D`` tokens (``N >= 3``).
        block_size: rows per block (``None``: automatic).

    Returns:
        scalar fp32 tensor in ``[-1, 1]``; NaN when there are no items (``B = 0``).
    """
    check_token_pair(student, target)
    batch, num, _ = student.shape
    if batch == 0:
        return student.new_full((), float('nan'), dtype=torch.float32)
    if num < 3:
        raise ValueError(f'correlation_agreement needs at least 3 tokens per item, got N={num}')
    s, t = _prepare(student, target, normalize=True)
    rows = auto_block_rows(batch, num) if block_size is None else max(1, min(int(block_size), num))
    total = s.new_zeros((), dtype=torch.float64)
    for start in range(0, num, rows):
        stop = min(num, start + rows)
        cs = _centred_offdiag(torch.bmm(s[:, start:stop], s.transpose(1, 2)), start)
        ct = _centred_offdiag(torch.bmm(t[:, start:stop], t.transpose(1, 2)), start)
        denom = cs.norm(dim=-1) * ct.norm(dim=-1) + 1e-12
        total += (_rowdot(cs, ct) / denom).sum(dtype=torch.float64)
    return (total / (batch * num)).float()


def _centred_offdiag(a: torch.Tensor, start: int) -> torch.Tensor:
    """Rows of a ``B x r x N`` block (rows ``start..``) centred over their off-diagonal entries,
    with the diagonal entry set to 0 (in place)."""
    diag = a.diagonal(offset=start, dim1=1, dim2=2)
    mean = (a.sum(-1) - diag) / (a.shape[-1] - 1)
    diag.copy_(mean)
    return a.sub_(mean.unsqueeze(-1))


@MODELS.register_module()
class SCDLoss(nn.Module):
    """Spatial Correlation Distillation loss (docs/method.md section 3), blockwise, bounded
    memory.

    Args:
        tau: softmax temperature of both correlation distributions (paper default 0.2).
        loss_weight: multiplier of the returned loss. Training applies lambda_SCD in the
            SCD term (:class:`~refclip_mm.models.scd_term.SCDTerm`), which keeps this at 1.0.
        normalize: L2-normalise student and target tokens inside.
        block_size: rows per block; ``None`` chooses it from ``block_bytes``.
        block_bytes: budget of one ``B x rows x N`` fp32 block when ``block_size`` is None.

    Shapes:
        ``forward(student B x N x D, target B x N x D) -> scalar``. Image level: ``N = h * w``;
        region level: ``B = number of boxes``, ``N = g * g`` (see :func:`region_tokens`).
    """

    def __init__(self, tau: float = 0.2, loss_weight: float = 1.0, normalize: bool = True,
                 block_size: Optional[int] = None, block_bytes: int = DEFAULT_BLOCK_BYTES):
        super().__init__()
        self.tau = check_tau(tau)
        self.loss_weight = float(loss_weight)
        self.normalize = bool(normalize)
        if block_size is not None and int(block_size) < 1:
            raise ValueError(f'block_size must be a positive number of rows or None, '
                             f'got {block_size}')
        if int(block_bytes) < 1:
            raise ValueError(f'block_bytes must be positive, got {block_bytes}')
        self.block_size = block_size
        self.block_bytes = int(block_bytes)

    def forward(self, student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Weighted SCD loss of ``student`` (``B x N x D``) against ``target`` (same shape)."""
        loss = scd_loss(student, target, self.tau, self.normalize, self.block_size,
                        self.block_bytes)
        return loss * self.loss_weight

    def extra_repr(self) -> str:
        return (f'tau={self.tau}, loss_weight={self.loss_weight}, normalize={self.normalize}, '
                f'block_size={self.block_size}')
