"""SCDDistillHook: Spatial Correlation Distillation during stage-2 fine-tuning (METHOD.md section 3)."""
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..clip import build_image_tower
from ..models.backbones.refiner_backbone import read_refiner_file
from ..models.frozen import FrozenModule, check_precision
from ..models.losses import SCDLoss, correlation_agreement, region_tokens
from ..registry import HOOKS, MODELS
from ..utils.checkpoint import load_state_dict_checked

LEVELS = ('region', 'image')


@HOOKS.register_module()
class SCDDistillHook(Hook):
    """Keep the student's token correlations close to a frozen teacher's.

    Adds ``lambda * SCD(student tokens, teacher tokens)`` to every step of a
    stage-2 model (:class:`~refclip_mm.models.trainers.RLATrainer`) through its
    ``add_loss_term`` extension point. The teacher is the frozen initial tower
    (SC-RLA), optionally followed by a trained Refiner (R-SC-RLA: set
    ``refiner``). The teacher is held outside the model (not in checkpoints,
    not wrapped by DDP), always in eval mode without gradients, on the
    student's device; by default its forward (tower and Refiner) runs under
    bf16 autocast, which changes the SCD value and gradient by less than the
    tolerance stated in docs/losses.md.

    Args:
        refiner: exported Refiner file (``tools/export_refiner.py``) or a
            stage-1 checkpoint; ``None`` for SC-RLA.
        teacher: ``None``: the model's frozen initial tower (no second copy);
            or ``dict(clip_model=..., pretrained=..., checkpoint_prefix=...)``
            to build another frozen tower (must match the student's shapes).
        level: ``'region'`` (tokens of each RLA box on a ``grid_size`` grid,
            default) or ``'image'`` (all ``h*w`` tokens of each image).
        grid_size: ``g`` of region-level SCD (14).
        tau: SCD temperature (0.2).
        loss_weight: lambda_SCD once switched on (0.4).
        start_ratio: SCD is off for this fraction of the training iterations (0.1).
        block_size: rows per block of the SCD loss (``None``: automatic).
        precision: compute precision of the frozen teacher and Refiner:
            ``'bf16'`` (default; autocast, on CPU and CUDA), ``'fp16'`` (CUDA)
            or ``'fp32'``. The targets are returned in fp32 either way.
        agreement_interval: log ``scd_agreement`` every this many iterations
            (at iterations ``0, N, 2N, ...``; 1 = every step).
    """
    priority = 'NORMAL'

    def __init__(self, refiner: Optional[str] = None, teacher: Optional[dict] = None,
                 level: str = 'region', grid_size: int = 14, tau: float = 0.2,
                 loss_weight: float = 0.4, start_ratio: float = 0.1,
                 block_size: Optional[int] = None, precision: str = 'bf16',
                 agreement_interval: int = 50):
        if level not in LEVELS:
            raise ValueError(f'level must be one of {LEVELS}, got {level!r}')
        if not 0.0 <= start_ratio < 1.0:
            raise ValueError(f'start_ratio must be in [0, 1), got {start_ratio}')
        if int(agreement_interval) < 1:
            raise ValueError(f'agreement_interval must be a positive number of iterations, '
                             f'got {agreement_interval}')
        self.precision = check_precision(precision, 'SCDDistillHook precision')
        self.agreement_interval = int(agreement_interval)
        self.refiner_file = refiner
        self.teacher_cfg = teacher
        self.level = level
        self.grid_size = grid_size
        self.loss_weight = float(loss_weight)
        self.start_ratio = start_ratio
        self.scd = SCDLoss(tau=tau, block_size=block_size)
        self.teacher: Optional[FrozenModule] = None
        self.refiner: Optional[FrozenModule] = None
        self.refiner_space = 'projected'
        self.start_iter = 0
        self._iter = 0

    # ------------------------------------------------------------------ set-up
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'add_loss_term'):
            raise TypeError(f'SCDDistillHook needs a stage-2 model with add_loss_term '
                            f'(RLATrainer), got {type(model).__name__}')
        self.teacher = self._build_teacher(model)
        if self.refiner_file is not None:
            self.refiner = self._build_refiner(model.student)
        self.start_iter = int(self.start_ratio * runner.max_iters)
        model.add_loss_term('scd', self.loss_term)
        print_log(f'SCD: {"R-SC-RLA" if self.refiner else "SC-RLA"}, {self.level} level, '
                  f'lambda {self.loss_weight} from iteration {self.start_iter}, teacher in '
                  f'{self.precision}, scd_agreement every {self.agreement_interval} iterations',
                  logger='current')

    def _build_teacher(self, model) -> FrozenModule:
        if self.teacher_cfg is None:
            return model.initial_tower
        cfg = dict(self.teacher_cfg)
        tower = build_image_tower(cfg.pop('clip_model'), cfg.pop('pretrained', None), **cfg)
        ours, theirs = model.student.state_dict(), tower.state_dict()
        bad = [k for k in ours if k not in theirs or theirs[k].shape != ours[k].shape]
        if bad:
            raise ValueError(f'the SCD teacher does not match the student tower: e.g. {bad[:5]} '
                             'differ; use a teacher of the same architecture')
        return FrozenModule(tower)

    def _build_refiner(self, tower) -> FrozenModule:
        """The frozen Refiner, checked against ``tower`` (the student's or teacher's)."""
        state, cfg = read_refiner_file(self.refiner_file)
        self.refiner_space = cfg.pop('token_space')
        token_dim = tower.embed_dim if self.refiner_space == 'projected' else tower.width
        if cfg['dim'] != token_dim:
            raise ValueError(f'the Refiner in {self.refiner_file!r} works on {cfg["dim"]}-dim '
                             f'{self.refiner_space} tokens but this tower\'s have {token_dim}: '
                             'it was trained for another tower')
        refiner = MODELS.build(dict(type='Refiner', **cfg))
        load_state_dict_checked(refiner, state, source=self.refiner_file)
        return FrozenModule(refiner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._iter = runner.iter

    # ------------------------------------------------------------------ the loss term
    def current_weight(self) -> float:
        """lambda_SCD of the current iteration (0 before ``start_iter``)."""
        return self.loss_weight if self._iter >= self.start_iter else 0.0

    def teacher_dense(self, images: torch.Tensor, mode: str = 'value') -> torch.Tensor:
        """The teacher's (refined) dense map ``B x D x h x w`` in ``images``' dtype, without
        gradient, computed in ``precision``."""
        precision = self.precision
        if self.refiner is None:
            return self.teacher('forward_dense', images, mode=mode, precision=precision).dense
        width = self.refiner_space == 'width'
        dense = self.teacher('forward_dense', images, mode=mode, project=not width,
                             precision=precision).dense
        refined = self.refiner('forward', dense, precision=precision)
        return self.teacher('project_map', refined, precision=precision) if width else refined

    def tokens(self, dense: torch.Tensor, batch) -> torch.Tensor:
        """Region (``K x g^2 x D``) or image (``B x h*w x D``) tokens of a dense map."""
        if self.level == 'region':
            return region_tokens(dense, batch.rois, self.grid_size,
                                 spatial_scale=1.0 / batch.patch_size)
        return dense.flatten(2).transpose(1, 2)

    def agreement_due(self) -> bool:
        """Whether this iteration logs ``scd_agreement`` (every ``agreement_interval``)."""
        return self._iter % self.agreement_interval == 0

    @staticmethod
    def agreement(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The logged ``scd_agreement`` of student and target tokens (no gradient)."""
        return correlation_agreement(student.detach(), target)

    def loss_term(self, batch) -> Dict[str, torch.Tensor]:
        """``loss_scd`` (weighted), ``scd_weight`` and, every ``agreement_interval``
        iterations, ``scd_agreement`` for one step."""
        weight = self.current_weight()
        student = self.tokens(batch.student_dense, batch)
        out = dict(scd_weight=batch.student_dense.new_tensor(weight))
        if weight == 0.0:  # off: no teacher forward, a zero that keeps the graph
            out['loss_scd'] = student.sum() * 0.0
            return out
        target = self.tokens(self.teacher_dense(batch.images), batch)
        out['loss_scd'] = weight * self.scd(student, target)
        if self.agreement_due():
            out['scd_agreement'] = self.agreement(student, target)
        return out
