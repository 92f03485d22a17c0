"""SCDDistillHook: Spatial Correlation Distillation during stage-2 fine-tuning
(docs/method.md sections 3 and 5.4)."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..clip import build_image_tower
from ..models.frozen import FrozenModule
from ..models.refined_tower import RefinedTower
from ..models.scd_term import SCDTerm
from ..registry import HOOKS
from ..utils.renamed import refuse_renamed


@HOOKS.register_module()
class SCDDistillHook(Hook):
    """Keep the student's token correlations close to a frozen teacher's.

    Builds the SCD term (:class:`~refclip_mm.models.scd_term.SCDTerm`: token extraction,
    teacher, loss, weight), attaches it to a stage-2 model
    (:class:`~refclip_mm.models.trainers.RLATrainer`) through its ``add_loss_term``
    extension point, and schedules lambda_SCD: 0 for the first ``start_ratio`` of the
    iterations, ``loss_weight`` afterwards. The teacher is the frozen initial tower (SC-RLA),
    optionally followed by a trained Refiner (R-SC-RLA: set ``refiner_file``), a
    :class:`~refclip_mm.models.refined_tower.RefinedTower` held outside the model (not in
    checkpoints, not wrapped by DDP), always in eval mode without gradients, on the student's
    device; by default its forward (tower and Refiner) runs under bf16 autocast where the
    device computes bf16 natively, which changes the SCD value and gradient by less than the
    tolerance stated in docs/losses.md.

    Args:
        refiner_file: exported Refiner file (``tools/export_refiner.py``) or a
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
            ``'auto'`` (default: bf16 where the device computes it natively, fp32
            elsewhere; :mod:`refclip_mm.utils.precision`), ``'bf16'`` (autocast, CPU and
            CUDA), ``'fp16'`` (CUDA) or ``'fp32'``. The targets are returned in fp32 either
            way.
        agreement_interval: log ``scd_agreement`` every this many iterations
            (at iterations ``0, N, 2N, ...``; 1 = every step).

    Attributes:
        term: the attached :class:`SCDTerm` (``None`` before training starts).
        start_iter: the first iteration with SCD on (set when training starts).
    """
    priority = 'NORMAL'

    def __init__(self, refiner_file: Optional[str] = None, teacher: Optional[dict] = None,
                 level: str = 'region', grid_size: int = 14, tau: float = 0.2,
                 loss_weight: float = 0.4, start_ratio: float = 0.1,
                 block_size: Optional[int] = None, precision: str = 'auto',
                 agreement_interval: int = 50, **renamed):
        refuse_renamed(renamed, dict(refiner='refiner_file'), 'SCDDistillHook',
                       others_allowed=False)
        if not 0.0 <= start_ratio < 1.0:
            raise ValueError(f'start_ratio must be in [0, 1), got {start_ratio}')
        self.term_options = dict(tau=tau, loss_weight=loss_weight, level=level,
                                 grid_size=grid_size, block_size=block_size,
                                 agreement_interval=agreement_interval, precision=precision)
        SCDTerm(key='SCDDistillHook', **self.term_options)  # every option checked now
        self.precision = precision
        self.refiner_file = refiner_file
        self.teacher_cfg = teacher
        self.loss_weight = float(loss_weight)
        self.start_ratio = start_ratio
        self.start_iter = 0
        self.term: Optional[SCDTerm] = None

    # ------------------------------------------------------------------ set-up
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'add_loss_term'):
            raise TypeError(f'SCDDistillHook needs a stage-2 model with add_loss_term '
                            f'(RLATrainer), got {type(model).__name__}')
        self.term = self.build_term(model)
        self.start_iter = self.start_iteration(runner.max_iters)
        model.add_loss_term('scd', self.term.rla_term)
        print_log(f'SCD: {"R-SC-RLA" if self.refiner_file else "SC-RLA"}, {self.term.level} level, '
                  f'lambda {self.loss_weight} from iteration {self.start_iter}, teacher in '
                  f'{self.precision}, scd_agreement every {self.term.agreement_interval} '
                  'iterations', logger='current')

    def build_term(self, model) -> SCDTerm:
        """The SCD term for ``model`` (a stage-2 model): its teacher checked against the
        student tower."""
        return SCDTerm(teacher=self.build_teacher(model), key='SCDDistillHook',
                       **self.term_options)

    def build_teacher(self, model) -> RefinedTower:
        """The frozen teacher: the model's initial tower (shared) or ``teacher``'s tower, and
        the Refiner of ``refiner_file`` (if set), each checked against the student."""
        tower = model.initial_tower
        if self.teacher_cfg is not None:
            cfg = dict(self.teacher_cfg)
            built = build_image_tower(cfg.pop('clip_model'), cfg.pop('pretrained', None), **cfg)
            ours, theirs = model.student.state_dict(), built.state_dict()
            bad = [k for k in ours if k not in theirs or theirs[k].shape != ours[k].shape]
            if bad:
                raise ValueError(f'the SCD teacher does not match the student tower: e.g. '
                                 f'{bad[:5]} differ; use a teacher of the same architecture')
            tower = FrozenModule(built)
        if self.refiner_file is None:
            return RefinedTower(tower)
        return RefinedTower.from_file(tower, self.refiner_file)

    # ------------------------------------------------------------------ the schedule
    def start_iteration(self, max_iters: int) -> int:
        """The first iteration with SCD on in a run of ``max_iters``."""
        return int(self.start_ratio * max_iters)

    def weight_at(self, iteration: int, max_iters: int) -> float:
        """lambda_SCD of ``iteration`` in a run of ``max_iters``: 0 for the first
        ``start_ratio`` of the iterations, ``loss_weight`` afterwards."""
        return self.loss_weight if iteration >= self.start_iteration(max_iters) else 0.0

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self.term.weight = self.weight_at(runner.iter, runner.max_iters)
