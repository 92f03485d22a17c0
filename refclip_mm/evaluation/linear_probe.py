"""Linear-probe segmentation of frozen dense features (the standard dense-quality probe).

Protocol of :func:`linear_probe_segmentation`:

1. token targets: every train label map resized to its feature grid (nearest);
   tokens whose target is ``ignore_index`` are left out;
2. features standardised per channel with the train tokens' mean and std;
3. a linear (1x1) classifier ``D -> C``, seeded initialisation, trained with
   Adam on the cross-entropy of the train tokens (full batch, or seeded
   minibatches of ``batch_tokens``) for ``steps`` steps;
4. on val: logits of every token, upsampled bilinearly to the label
   resolution, argmax; a ``C x C`` confusion over labelled pixels gives
   per-class IoU, mIoU over the classes present, and accuracies.

Deterministic for a seed on one machine and thread count.
"""
from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .unsupervised_seg import LabelType, percent_scores, scores_from_confusion


@dataclass
class LinearProbeResult:
    """Scores of a linear probe (percent) and its final train loss."""
    miou: float
    pixel_acc: float
    mean_acc: float
    per_class_iou: np.ndarray
    confusion: np.ndarray
    train_loss: float
    num_train_tokens: int

    def as_dict(self) -> Dict[str, float]:
        return dict(mIoU=self.miou, aAcc=self.pixel_acc, mAcc=self.mean_acc)


def _as_label(lab: LabelType) -> torch.Tensor:
    lab = torch.as_tensor(np.asarray(lab) if not isinstance(lab, torch.Tensor) else lab).long()
    if lab.dim() != 2:
        raise ValueError(f'label maps must be H x W, got shape {tuple(lab.shape)}')
    return lab


def token_targets(feats: Sequence[torch.Tensor], labels: Sequence[LabelType]):
    """``(N x D tokens, N targets)`` of every token: its label map resized to the grid (nearest)."""
    xs, ys = [], []
    for f, lab in zip(feats, labels):
        lab = _as_label(lab)
        small = F.interpolate(lab[None, None].float(), size=f.shape[1:], mode='nearest')
        xs.append(f.flatten(1).T.float())
        ys.append(small.flatten().long())
    return torch.cat(xs), torch.cat(ys)


def linear_probe_segmentation(train_feats: Sequence[torch.Tensor],
                              train_labels: Sequence[LabelType],
                              val_feats: Sequence[torch.Tensor], val_labels: Sequence[LabelType],
                              num_classes: int, ignore_index: int = 255, steps: int = 300,
                              lr: float = 0.05, weight_decay: float = 1e-4,
                              batch_tokens: int = 65536, seed: int = 0) -> LinearProbeResult:
    """Linear-probe segmentation scores (see the module docstring).

    Args:
        train_feats / val_feats: per image a ``D x h x w`` dense map.
        train_labels / val_labels: per image an ``H x W`` label map (full resolution).
        num_classes: ``C``; labels are ``0..C-1`` or ``ignore_index``.
    """
    if len(train_feats) != len(train_labels) or len(val_feats) != len(val_labels):
        raise ValueError('every feature map needs one label map')
    if not train_feats or not val_feats:
        raise ValueError('the probe needs train and val images')
    x, y = token_targets(train_feats, train_labels)
    keep = y != ignore_index
    x, y = x[keep], y[keep]
    if len(y) == 0:
        raise ValueError('no labelled train token')
    if int(y.max()) >= num_classes or int(y.min()) < 0:
        raise ValueError(f'train labels must be in 0..{num_classes - 1} or {ignore_index}')
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x = (x - mean) / std
    generator = torch.Generator().manual_seed(seed)
    weight = (torch.randn(num_classes, x.shape[1], generator=generator) * 0.01).requires_grad_()
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    loss = torch.tensor(float('nan'))
    with torch.enable_grad():
        for _ in range(steps):
            if len(y) > batch_tokens:
                index = torch.randperm(len(y), generator=generator)[:batch_tokens]
                xb, yb = x[index], y[index]
            else:
                xb, yb = x, y
            loss = F.cross_entropy(xb @ weight.T + bias, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    weight, bias = weight.detach(), bias.detach()
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64)
    with torch.no_grad():
        for f, lab in zip(val_feats, val_labels):
            lab = _as_label(lab)
            tokens = (f.flatten(1).T.float() - mean) / std
            logits = (tokens @ weight.T + bias).T.reshape(num_classes, *f.shape[1:])
            pred = F.interpolate(logits[None], size=lab.shape, mode='bilinear',
                                 align_corners=False)[0].argmax(0)
            valid = lab != ignore_index
            if valid.any() and (int(lab[valid].max()) >= num_classes or int(lab[valid].min()) < 0):
                raise ValueError(f'val labels must be in 0..{num_classes - 1} or {ignore_index}')
            confusion += torch.bincount(pred[valid] * num_classes + lab[valid],
                                        minlength=num_classes * num_classes)
    confusion = confusion.reshape(num_classes, num_classes).numpy()  # predicted x true
    scores = scores_from_confusion(confusion, np.arange(num_classes))
    return LinearProbeResult(**percent_scores(scores), confusion=confusion,
                             train_loss=float(loss.detach()), num_train_tokens=int(len(y)))
