"""Dense losses of the Refiner: the InfoNCE of docs/method.md section 4.3, its contaminant filter,
and the per-token cosine loss that replaces the InfoNCE as the stage-1 default (docs/method.md)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from refclip_mm.registry import MODELS
from .utils import check_tau, check_token_pair, check_tokens, zero_loss

_MASKED_LOGIT = -1e9  # a finite "minus infinity": rows that end up fully masked stay NaN-free


@torch.no_grad()
def contaminant_mask(target: torch.Tensor, k_std: float = 0.5,
                     partner: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Flag target tokens that look like global "semantic contaminants"
    (docs/method.md section 4.3).

    For item ``b`` with unrelated item ``u = partner[b]`` (default ``(b + 1) mod B``) and
    L2-normalised tokens ``t``::

        s[b, i]   = max_j  <t[b, i], t[u, j]>          (best cosine to any token of item u)
        thr[b]    = mean_i s[b, i] + k_std * std_i s[b, i]   (population std over item b's tokens)
        mask[b,i] = s[b, i] > thr[b]

    i.e. a token is a contaminant when it matches an unrelated image unusually well compared
    with the other tokens of its own image.

    Args:
        target: ``B x N x D`` target tokens, ``B >= 2`` unless ``partner`` is given.
        k_std: number of standard deviations above the mean (default 0.5).
        partner: optional ``B`` long tensor naming each item's unrelated item (must differ
            from the item itself), e.g. a box of another image when items are boxes.

    Returns:
        ``B x N`` bool tensor, True = contaminant (pass ``~mask`` as ``valid_mask``).
    """
    check_tokens('target', target)
    batch = target.shape[0]
    if partner is None:
        if batch < 2:
            raise ValueError('contaminant_mask needs at least 2 items (each is compared with an '
                             f'unrelated one), got B={batch}; pass partner= to choose them')
        partner = (torch.arange(batch, device=target.device) + 1) % batch
    partner = torch.as_tensor(partner, device=target.device, dtype=torch.long)
    if partner.shape != (batch,):
        raise ValueError(f'partner must have shape ({batch},), got {tuple(partner.shape)}')
    if bool((partner < 0).any() or (partner >= batch).any()):
        raise ValueError(f'partner indices must lie in [0, {batch - 1}], got {partner.tolist()}')
    own = torch.nonzero(partner == torch.arange(batch, device=target.device)).flatten()
    if own.numel():
        raise ValueError('an item cannot be its own unrelated partner: partner[b] == b for b in '
                         f'{own.tolist()}')
    t = F.normalize(target.float(), dim=-1)
    best = torch.bmm(t, t[partner].transpose(1, 2)).amax(-1)  # B x N
    thr = best.mean(-1, keepdim=True) + float(k_std) * best.std(-1, unbiased=False, keepdim=True)
    return best > thr


def dense_infonce_loss(student: torch.Tensor, target: torch.Tensor, tau: float = 0.2,
                       valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Token-level InfoNCE: token ``i`` of the student must pick target token ``i`` of its box.

    ``loss = mean over (k, i) of -log softmax_j(<s_ki, t_kj> / tau)[i]`` with L2-normalised tokens.
    With ``valid_mask``, dropped targets are removed as candidates ``j`` and rows whose own
    target ``i`` is dropped are left out of the mean (a mean over all kept ``(k, i)`` of all
    boxes). Nothing kept gives a zero that is still connected to the graph.

    Args:
        student: ``K x N x D`` student tokens (gradient flows).
        target: ``K x N x D`` target tokens (detached).
        tau: temperature (> 0).
        valid_mask: optional ``K x N`` bool, False = target token dropped.

    Returns:
        scalar fp32 loss.
    """
    check_token_pair(student, target)
    tau = check_tau(tau)
    s = F.normalize(student.float(), dim=-1)
    t = F.normalize(target.detach().float(), dim=-1)
    logits = torch.bmm(s, t.transpose(1, 2)) / tau  # K x N x N, row i = student token i
    num = s.shape[1]
    if valid_mask is None:
        if logits.numel() == 0:
            return zero_loss(student)
        labels = torch.arange(num, device=s.device).repeat(s.shape[0])
        return F.cross_entropy(logits.flatten(0, 1), labels)
    valid = _check_mask(valid_mask, student.shape[:2]).to(s.device)
    logits = logits.masked_fill(~valid.unsqueeze(1), _MASKED_LOGIT)
    log_p = torch.log_softmax(logits, dim=-1).diagonal(dim1=1, dim2=2)  # K x N, log p(i | i)
    if not bool(valid.any()):
        return zero_loss(student)
    return -log_p[valid].mean()


def _check_mask(mask: torch.Tensor, shape) -> torch.Tensor:
    """``mask`` as a bool tensor of ``shape`` (``K x N``), or a clear error."""
    mask = torch.as_tensor(mask)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f'valid_mask must have shape K x N = {tuple(shape)}, '
                         f'got {tuple(mask.shape)}')
    return mask.bool()


@MODELS.register_module()
class DenseInfoNCELoss(nn.Module):
    """Dense InfoNCE of the Refiner (docs/method.md section 4.3, ``L_dense``).

    Args:
        tau: temperature (default 0.2).
        loss_weight: multiplier of the loss.
        drop_contaminants: also drop target tokens flagged by :func:`contaminant_mask`
            (docs/method.md section 4.3 option; default off).
        contaminant_k_std: the ``k_std`` of :func:`contaminant_mask` (default 0.5).

    Shapes:
        ``forward(student K x N x D, target K x N x D, valid_mask=None (K x N bool),
        partner=None (K long)) -> scalar``; ``K`` boxes of ``N = g * g`` tokens.
    """

    def __init__(self, tau: float = 0.2, loss_weight: float = 1.0,
                 drop_contaminants: bool = False, contaminant_k_std: float = 0.5):
        super().__init__()
        self.tau = check_tau(tau)
        self.loss_weight = float(loss_weight)
        self.drop_contaminants = bool(drop_contaminants)
        self.contaminant_k_std = float(contaminant_k_std)

    def forward(self, student: torch.Tensor, target: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None,
                partner: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Weighted loss; ``partner`` is passed to :func:`contaminant_mask` when filtering."""
        check_token_pair(student, target)
        if self.drop_contaminants and student.shape[0] > 0:
            keep = ~contaminant_mask(target, self.contaminant_k_std, partner)
            valid_mask = keep if valid_mask is None else keep & _check_mask(
                valid_mask, student.shape[:2]).to(keep.device)
        return dense_infonce_loss(student, target, self.tau, valid_mask) * self.loss_weight

    def extra_repr(self) -> str:
        return (f'tau={self.tau}, loss_weight={self.loss_weight}, '
                f'drop_contaminants={self.drop_contaminants}')


def dense_cosine_loss(student: torch.Tensor, target: torch.Tensor,
                      valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``mean over (k, i) of 1 - cos(s_ki, t_ki)``: each student token regresses onto its own
    target token (CLIPSelf's loss, token by token), unlike the InfoNCE, which only asks it to
    be closer to its own target than to the box's other targets.

    Args:
        student: ``K x N x D`` student tokens (gradient flows).
        target: ``K x N x D`` target tokens (detached).
        valid_mask: optional ``K x N`` bool, False = target token left out of the mean.

    Returns:
        scalar fp32 loss (a zero connected to the graph when nothing is kept).
    """
    check_token_pair(student, target)
    cos = F.cosine_similarity(student.float(), target.detach().float(), dim=-1)  # K x N
    if valid_mask is not None:
        cos = cos[_check_mask(valid_mask, student.shape[:2]).to(cos.device)]
    if cos.numel() == 0:
        return zero_loss(student)
    return 1.0 - cos.mean()


@MODELS.register_module()
class DenseCosineLoss(nn.Module):
    """Per-token cosine loss between the student and target tokens of a box
    (:func:`dense_cosine_loss`); ``RefinerTrainer``'s default, :class:`DenseInfoNCELoss` its
    alternative (docs/method.md section 4.3).

    Args:
        loss_weight: multiplier of the loss.

    Shapes:
        ``forward(student K x N x D, target K x N x D, valid_mask=None (K x N bool)) -> scalar``.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, student: torch.Tensor, target: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return dense_cosine_loss(student, target, valid_mask) * self.loss_weight

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
