"""The SCD term of both training stages: ``lambda_SCD * SCD(student tokens, target tokens)``.

One component (docs/method.md sections 3-5) for the stage-1 model and the stage-2 model:

* the loss (:class:`~refclip_mm.models.losses.SCDLoss`, unweighted) and its weight
  ``lambda_SCD``: :attr:`SCDTerm.weight`, fixed in stage 1, scheduled by ``SCDDistillHook``
  in stage 2;
* the logged values: ``scd_weight`` every step, ``scd_agreement`` every
  ``agreement_interval`` iterations;
* token extraction: region level (each box RoIAligned to ``g x g`` tokens) or image level
  (all ``h * w`` tokens);
* the target of stage 2: the teacher, a frozen :class:`~refclip_mm.models.refined_tower.RefinedTower`
  (the initial tower, optionally followed by a trained Refiner) computed in ``precision``.

Stage 1 computes its own target tokens (the frozen tower on zoomed crops) and calls the term
on the token pairs (:meth:`SCDTerm.__call__`); stage 2 hands it each step's
:class:`~refclip_mm.models.trainers.RLABatch` (:meth:`SCDTerm.rla_term`).
"""
from typing import Dict, Optional

import torch

from ..utils.regions import region_tokens
from ..utils.runner_state import current_iteration
from .frozen import check_precision
from .losses import SCDLoss, correlation_agreement
from .refined_tower import RefinedTower

LEVELS = ('region', 'image')


class SCDTerm:
    """Spatial Correlation Distillation as a loss term.

    Args:
        tau: SCD temperature (0.2).
        loss_weight: lambda_SCD once switched on (0.4); :attr:`weight` starts there.
        level: ``'region'`` (tokens of each box on a ``grid_size`` grid) or ``'image'``.
        grid_size: ``g`` of region-level tokens (14).
        block_size: rows per block of the SCD loss (``None``: automatic).
        agreement_interval: log ``scd_agreement`` at iterations ``0, N, 2N, ...`` of a Runner
            (outside a Runner: every call).
        teacher: stage 2's target network, or ``None`` (stage 1 passes its own targets).
        precision: compute precision of the teacher's forward (``'auto'``, ``'bf16'``,
            ``'fp16'``, ``'fp32'``; :mod:`refclip_mm.utils.precision`); targets are returned
            in fp32 either way.
        key: the config key these options come from (named in errors).
    """

    def __init__(self, tau: float = 0.2, loss_weight: float = 0.4, level: str = 'region',
                 grid_size: int = 14, block_size: Optional[int] = None,
                 agreement_interval: int = 50, teacher: Optional[RefinedTower] = None,
                 precision: str = 'auto', key: str = 'SCD'):
        if level not in LEVELS:
            raise ValueError(f'{key} level must be one of {LEVELS}, got {level!r}')
        if int(agreement_interval) < 1:
            raise ValueError(f'{key} agreement_interval must be a positive number of iterations, '
                             f'got {agreement_interval}')
        self.loss = SCDLoss(tau=tau, block_size=block_size)
        self.loss_weight = float(loss_weight)
        self.weight = self.loss_weight
        self.level = level
        self.grid_size = int(grid_size)
        self.agreement_interval = int(agreement_interval)
        self.teacher = teacher
        self.precision = check_precision(precision, f'{key} precision')

    @classmethod
    def from_loss_cfg(cls, cfg: dict, key: str = 'loss_scd', **kwargs) -> 'SCDTerm':
        """An SCD term from an mmdet-style loss config ``dict(type='SCDLoss', tau=...,
        loss_weight=..., block_size=...)``; ``kwargs`` give the other options."""
        cfg = dict(cfg)
        kind = str(cfg.pop('type', 'SCDLoss')).split('.')[-1]
        if kind != 'SCDLoss':
            raise ValueError(f'{key} must be an SCDLoss config (tau, loss_weight, block_size), '
                             f'got type {kind!r}')
        unknown = sorted(set(cfg) - {'tau', 'loss_weight', 'block_size', 'agreement_interval'})
        if unknown:
            raise ValueError(f'{key} has unknown keys {unknown}; it takes tau, loss_weight, '
                             'block_size and agreement_interval')
        return cls(key=key, **cfg, **kwargs)

    # ------------------------------------------------------------------ pieces
    def tokens(self, dense: torch.Tensor, rois: torch.Tensor, patch_size: int) -> torch.Tensor:
        """Region (``K x g^2 x D``, ``rois`` in image pixels) or image (``B x h*w x D``) tokens
        of a dense map ``B x D x h x w``."""
        if self.level == 'region':
            return region_tokens(dense, rois, self.grid_size, spatial_scale=1.0 / patch_size)
        return dense.flatten(2).transpose(1, 2)

    def teacher_dense(self, images: torch.Tensor) -> torch.Tensor:
        """The teacher's (refined) dense map ``B x D x h x w`` in ``images``' dtype, without
        gradient, computed in ``precision``."""
        if self.teacher is None:
            raise RuntimeError('this SCD term has no teacher: pass the target tokens instead')
        return self.teacher(images, self.precision)

    def agreement_due(self) -> bool:
        """Whether this iteration logs ``scd_agreement`` (every ``agreement_interval``)."""
        iteration = current_iteration()
        return iteration is None or iteration % self.agreement_interval == 0

    @staticmethod
    def agreement(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The logged ``scd_agreement`` of student and target tokens (no gradient)."""
        return correlation_agreement(student.detach(), target)

    # ------------------------------------------------------------------ the term
    def off(self, student: torch.Tensor) -> Dict[str, torch.Tensor]:
        """While ``weight`` is 0: ``loss_scd`` a zero that keeps the graph, no target needed."""
        return dict(scd_weight=student.new_tensor(0.0), loss_scd=student.sum() * 0.0)

    def __call__(self, student: torch.Tensor, target: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``scd_weight``, ``loss_scd`` (``weight * SCD``) and, when due, ``scd_agreement`` of
        student and target tokens (``B x N x D`` each; gradient reaches ``student`` only)."""
        if self.weight == 0.0:
            return self.off(student)
        out = dict(scd_weight=student.new_tensor(self.weight),
                   loss_scd=self.weight * self.loss(student, target))
        if self.agreement_due():
            out['scd_agreement'] = self.agreement(student, target)
        return out

    def rla_term(self, batch) -> Dict[str, torch.Tensor]:
        """The stage-2 loss term (``RLATrainer.add_loss_term``): tokens of the step's student
        map and of the teacher's map of the same images; no teacher forward while off."""
        student = self.tokens(batch.student_dense, batch.rois, batch.patch_size)
        if self.weight == 0.0:
            return self.off(student)
        target = self.tokens(self.teacher_dense(batch.images), batch.rois, batch.patch_size)
        return self(student, target)
