"""Region-language alignment (RLA) losses of stage 2, docs/method.md section 5.3: CLIPSelf,
RegionCLIP."""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from refclip_mm.registry import MODELS
from .utils import check_features, zero_loss

CLIP_LOGIT_SCALE = 100.0  # exp of CLIP's trained (clamped) logit scale


def clipself_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """``1 - mean_k cos(student_k, teacher_k)``.

    Args:
        student: ``K x D`` student region features (RoIAlign of the dense map).
        teacher: ``K x D`` frozen-teacher embeddings of the crops (detached).

    Returns:
        scalar fp32 loss; ``K = 0`` gives a zero connected to ``student``.
    """
    check_features('student region features', student)
    check_features('teacher crop embeddings', teacher)
    if student.shape != teacher.shape:
        raise ValueError('student region features and teacher crop embeddings must both be '
                         f'K x D; got {tuple(student.shape)} and {tuple(teacher.shape)}')
    if student.shape[0] == 0:
        return zero_loss(student)
    cos = F.cosine_similarity(student.float(), teacher.detach().float(), dim=-1)
    return 1.0 - cos.mean()


def concept_pseudo_labels(teacher: torch.Tensor, concepts: torch.Tensor) -> torch.Tensor:
    """Index of each teacher crop embedding's best-matching concept (cosine): ``K`` long."""
    check_features('teacher crop embeddings', teacher)
    check_features('concept embeddings', concepts)
    _check_dims('teacher crop embeddings', teacher, concepts)
    with torch.no_grad():
        sims = F.normalize(teacher.float(), dim=-1) @ F.normalize(concepts.float(), dim=-1).t()
        return sims.argmax(-1)


def regionclip_loss(regions: torch.Tensor, concepts: torch.Tensor,
                    teacher: Optional[torch.Tensor] = None,
                    labels: Optional[torch.Tensor] = None,
                    logit_scale: Union[float, torch.Tensor] = CLIP_LOGIT_SCALE,
                    logit_bias: Optional[Union[float, torch.Tensor]] = None) -> torch.Tensor:
    """Cross-entropy of region-vs-concept logits against the teacher's pseudo-labels.

    ``logits = logit_scale * cos(region_k, concept_c)``; the label of region ``k`` is
    ``labels[k]`` or, if not given, :func:`concept_pseudo_labels` of ``teacher``. For a
    sigmoid-trained CLIP (SigLIP, SigLIP 2; ``logit_bias`` given) each concept is scored on its
    own as in its pre-training: ``sigmoid(logits + logit_bias)`` against a one-hot target
    (binary cross-entropy summed over the concepts, averaged over the regions).

    Args:
        regions: ``K x D`` student region features.
        concepts: ``C x D`` concept text embeddings (normalised inside; ``C >= 1``).
        teacher: ``K x D`` teacher crop embeddings (exactly one of ``teacher``/``labels``).
        labels: ``K`` long concept indices.
        logit_scale: the scale itself (not its log): CLIP's 100 or ``model.logit_scale.exp()``.
        logit_bias: a sigmoid CLIP's bias; ``None``: softmax cross-entropy.

    Returns:
        scalar fp32 loss; ``K = 0`` gives a zero connected to ``regions``.
    """
    check_features('region features', regions)
    check_features('concept embeddings', concepts)
    if concepts.shape[0] == 0:
        raise ValueError('the concept set is empty (0 concept embeddings): RegionCLIP needs at '
                         'least one concept to classify regions into')
    _check_dims('region features', regions, concepts)
    if (teacher is None) == (labels is None):
        raise ValueError('give exactly one of teacher (K x D crop embeddings) or labels (K)')
    if labels is None:
        if teacher.shape[0] != regions.shape[0]:
            raise ValueError(f'got {regions.shape[0]} region features but {teacher.shape[0]} '
                             'teacher crop embeddings; they must be one per box')
        labels = concept_pseudo_labels(teacher, concepts)
    labels = _check_labels(labels, regions.shape[0], concepts.shape[0]).to(regions.device)
    scale = _check_scale(logit_scale)
    if regions.shape[0] == 0:
        return zero_loss(regions)
    cos = F.normalize(regions.float(), dim=-1) @ F.normalize(concepts.float(), dim=-1).t()
    if logit_bias is None:
        return F.cross_entropy(cos * scale, labels)
    target = F.one_hot(labels, concepts.shape[0]).float()
    return F.binary_cross_entropy_with_logits(cos * scale + logit_bias, target,
                                              reduction='sum') / regions.shape[0]


def _check_dims(name: str, feats: torch.Tensor, concepts: torch.Tensor) -> None:
    if feats.shape[1] != concepts.shape[1]:
        raise ValueError(f'{name} have D={feats.shape[1]} channels but the concept embeddings '
                         f'have D={concepts.shape[1]}; both must live in the same joint '
                         'embedding space')


def _check_labels(labels, num_regions: int, num_concepts: int) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.shape != (num_regions,):
        raise ValueError(f'labels must have shape ({num_regions},), got {tuple(labels.shape)}')
    if labels.is_floating_point():
        raise ValueError(f'labels must be integer concept indices, got dtype {labels.dtype}')
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_concepts):
        raise ValueError(f'labels must lie in [0, {num_concepts - 1}] (C={num_concepts} '
                         f'concepts); got range [{labels.min().item()}, {labels.max().item()}]')
    return labels.long()


def _check_scale(scale: Union[float, torch.Tensor]) -> Union[float, torch.Tensor]:
    """A positive scalar scale (a 0-d fp32 tensor keeps its graph), or a clear error."""
    if isinstance(scale, torch.Tensor):
        if scale.numel() != 1:
            raise ValueError(f'logit_scale must be a scalar, got shape {tuple(scale.shape)}')
        value = float(scale.detach().reshape(()))
    else:
        value = float(scale)
    if not value > 0:
        raise ValueError(f'logit_scale must be positive (the scale, not its log), got {value}')
    return scale.float().reshape(()) if isinstance(scale, torch.Tensor) else value


@MODELS.register_module()
class CLIPSelfLoss(nn.Module):
    """CLIPSelf loss: ``loss_weight * (1 - mean cosine(student region, teacher crop))``.

    Shapes: ``forward(student K x D, teacher K x D) -> scalar``.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        return clipself_loss(student, teacher) * self.loss_weight


@MODELS.register_module()
class RegionCLIPLoss(nn.Module):
    """RegionCLIP loss: classify regions into concepts, pseudo-labelled by the teacher.

    Args:
        logit_scale: default scale of the cosine logits (CLIP's 100); ``forward`` can
            override it with the model's (``model.logit_scale.exp()``).
        logit_bias: default bias of a sigmoid-trained CLIP (``None``: softmax cross-entropy;
            :func:`regionclip_loss`); ``forward`` can override it.
        loss_weight: multiplier of the loss.

    Shapes: ``forward(regions K x D, concepts C x D, teacher=None (K x D), labels=None (K),
    logit_scale=None, logit_bias=None) -> scalar``.
    """

    def __init__(self, logit_scale: float = CLIP_LOGIT_SCALE,
                 logit_bias: Optional[float] = None, loss_weight: float = 1.0):
        super().__init__()
        self.logit_scale = _check_scale(logit_scale)
        self.logit_bias = None if logit_bias is None else float(logit_bias)
        self.loss_weight = float(loss_weight)

    def forward(self, regions: torch.Tensor, concepts: torch.Tensor,
                teacher: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None,
                logit_scale: Optional[Union[float, torch.Tensor]] = None,
                logit_bias: Optional[Union[float, torch.Tensor]] = None) -> torch.Tensor:
        scale = self.logit_scale if logit_scale is None else logit_scale
        bias = self.logit_bias if logit_bias is None else logit_bias
        return regionclip_loss(regions, concepts, teacher, labels, scale, bias) * self.loss_weight

    def extra_repr(self) -> str:
        return (f'logit_scale={self.logit_scale}, logit_bias={self.logit_bias}, '
                f'loss_weight={self.loss_weight}')
