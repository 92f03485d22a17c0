"""Test-time score fusion of F-ViT (docs/method.md section 6.1)."""
from typing import Optional

import torch
import torch.nn.functional as F


def clip_region_probs(region_feats: torch.Tensor, class_embeddings: torch.Tensor,
                      temperature: float, bias: Optional[float] = None) -> torch.Tensor:
    """CLIP region scores: ``softmax(temperature * cos(region, class))`` over the classes, or,
    for a sigmoid-trained CLIP (SigLIP, SigLIP 2; ``bias`` given), each class on its own:
    ``sigmoid(temperature * cos + bias)`` (rows need not sum to 1).

    Args:
        region_feats: ``K x D`` region features of the dense CLIP map.
        class_embeddings: ``(C + 1) x D`` text embeddings, background last.
        temperature: CLIP logit scale (75 on COCO, 50 on LVIS; a sigmoid CLIP's own scale).
        bias: the sigmoid CLIP's logit bias; ``None``: softmax scores.

    Returns:
        ``K x (C + 1)`` probabilities.
    """
    logits = temperature * (F.normalize(region_feats, dim=-1)
                            @ F.normalize(class_embeddings, dim=-1).t())
    if bias is None:
        return logits.softmax(dim=-1)
    return torch.sigmoid(logits + float(bias))


def fuse_scores(det_probs: torch.Tensor, clip_probs: torch.Tensor, novel_mask: torch.Tensor,
                alpha: float, beta: float) -> torch.Tensor:
    """Geometric fusion of detector and CLIP scores.

    Base columns get ``det^(1-alpha) * clip^alpha``, novel columns
    ``det^(1-beta) * clip^beta``; the background column (last, never novel)
    is fused like a base class. No renormalisation.

    Args:
        det_probs / clip_probs: ``K x (C + 1)`` probabilities.
        novel_mask: ``C + 1`` bool, True for novel classes.
        alpha / beta: CLIP weight for base / novel classes.

    Returns:
        ``K x (C + 1)`` fused scores.
    """
    if det_probs.shape != clip_probs.shape or det_probs.shape[-1] != novel_mask.numel():
        raise ValueError(f'score shapes {tuple(det_probs.shape)} / {tuple(clip_probs.shape)} and '
                         f'novel mask ({novel_mask.numel()}) do not fit together')
    weight = torch.full_like(det_probs[:1], float(alpha))
    weight[:, novel_mask.to(det_probs.device)] = float(beta)
    return det_probs.pow(1 - weight) * clip_probs.pow(weight)
