"""Refuse to resume training from a checkpoint whose weights do not fit the model."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS
from ..utils.checkpoint import check_state_dict_fits, extract_state_dict


@HOOKS.register_module()
class StrictResumeHook(Hook):
    """Make ``--resume`` fail loudly on missing, unexpected or mis-shaped weights.

    mmengine's Runner loads the weights of a resumed checkpoint non-strictly
    and only logs mismatches, so resuming from the wrong file silently trains
    a partly re-initialised model. This hook checks the checkpoint before it is
    loaded and raises :class:`~refclip_mm.utils.checkpoint.CheckpointError`
    naming the keys. Plain ``load_from`` (fine-tuning from other weights, where
    partial loading is normal) is left alone. ``tools/train.py --resume`` adds
    this hook automatically.
    """
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        source = f'the checkpoint resumed from ({runner._load_from or runner.work_dir})'
        check_state_dict_fits(model, extract_state_dict(checkpoint), strict=True, source=source)
