"""Turn a stage-2 checkpoint into a tower file for CLIPViT / F-ViT / the segmentor, or open_clip.

The file is an artifact of kind ``'tower'`` (:mod:`refclip_mm.utils.artifact`):
``state_dict`` (``visual.*``, or a complete open_clip state dict) and ``meta`` with
``clip_model`` / ``embed_dim`` (the architecture stage 2 trained), ``format``,
``method`` (RLA loss and SCD variant, when the checkpoint records its config),
``alpha``, ``initial``, ``source`` and ``iter``. The ``'local-dir'`` format writes
open_clip's model folder instead (``open_clip_config.json`` with that ``meta`` under
``refclip_mm``, ``open_clip_model.safetensors``, the tokenizer files of a SigLIP text tower).
"""
import inspect
from collections import OrderedDict
from typing import Any, Dict, Optional

import torch

from ...clip import clip_dims, read_clip_state_dict
from ...clip.convert import to_open_clip_state_dict
from ...clip.factory import export_local_dir
from ...utils.artifact import artifact_meta, meta_of, plain, recorded_config, save_artifact
from ...utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file
from ...utils.weight_layouts import select_weights

FORMATS = ('tower', 'open_clip', 'local-dir')
RLA_NAMES = {'CLIPSelfLoss': 'CLIPSelf', 'RegionCLIPLoss': 'RegionCLIP'}


def student_tower_state(checkpoint: Any, source: Optional[str] = None
                        ) -> 'OrderedDict[str, torch.Tensor]':
    """The fine-tuned image tower of a stage-2 checkpoint (a path or a loaded file), keys ``visual.*``."""
    if isinstance(checkpoint, str):
        source, checkpoint = source or repr(checkpoint), load_checkpoint_file(checkpoint)
    return select_weights(extract_state_dict(checkpoint), 'stage2', source=source or 'checkpoint')


def stage2_method(cfg: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """What a stage-2 training config trained: ``rla`` (``'CLIPSelf'`` / ``'RegionCLIP'``),
    ``scd`` (``None``, ``'SC-RLA'`` or ``'R-SC-RLA'``) and the SCD ``refiner`` file;
    ``None`` without a config."""
    if not cfg:
        return None
    from .rla_trainer import RLATrainer
    default_loss = inspect.signature(RLATrainer.__init__).parameters['loss_rla'].default
    loss = str(dict((cfg.get('model') or {}).get('loss_rla') or default_loss).get('type', ''))
    hooks = [h for h in cfg.get('custom_hooks') or []
             if str(h.get('type', '')).split('.')[-1] == 'SCDDistillHook']
    # configs recorded before the hook's argument was renamed call it 'refiner'
    refiner = (hooks[0].get('refiner_file', hooks[0].get('refiner')) if hooks else None)
    return dict(rla=RLA_NAMES.get(loss.split('.')[-1], loss),
                scd=None if not hooks else 'R-SC-RLA' if refiner else 'SC-RLA', refiner=refiner)


def average_with_initial(student: Dict[str, torch.Tensor], initial: Dict[str, torch.Tensor],
                         alpha: float) -> 'OrderedDict[str, torch.Tensor]':
    """``alpha * student + (1 - alpha) * initial`` for every floating tensor
    (docs/method.md section 5.5)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    missing = [k for k in student if k not in initial]
    shapes = [k for k in student if k in initial and initial[k].shape != student[k].shape]
    if missing or shapes:
        raise CheckpointError(f'the initial weights do not match the fine-tuned tower: missing '
                              f'{missing[:5]}, different shapes {shapes[:5]}')
    out = OrderedDict()
    for key, value in student.items():
        if value.is_floating_point():
            out[key] = alpha * value + (1.0 - alpha) * initial[key].to(value)
        else:
            out[key] = value
    return out


def convert_stage2_checkpoint(checkpoint: str, out_path: str, fmt: str = 'tower',
                              initial: Optional[str] = None, alpha: Optional[float] = None,
                              clip_model: Any = None, tokenizer_dir: Optional[str] = None) -> dict:
    """Write the stage-2 student tower as a tower file (atomically) or a model folder.

    Args:
        checkpoint: stage-2 training checkpoint (keys ``student.visual.*``).
        out_path: output file (written atomically); a folder for ``'local-dir'``.
        fmt: ``'tower'``: ``visual.*`` keys, what ``CLIPViT(pretrained=...)`` /
            ``build_image_tower`` load (F-ViT and the segmentor use CLIPViT);
            ``'open_clip'``: a complete open_clip state dict that
            ``open_clip.create_model(name, pretrained=out_path)`` loads (text
            tower, logit scale and bias taken from ``initial``);
            ``'local-dir'``: the same weights as open_clip's model folder, with the
            architecture and (SigLIP) the tokenizer, which
            ``open_clip.create_model_and_transforms('local-dir:' + out_path)`` loads.
        initial: the CLIP weights stage 2 started from, a file or a model folder (needed
            for ``alpha``, ``'open_clip'`` and ``'local-dir'``).
        alpha: if given, save ``alpha * student + (1 - alpha) * initial``
            (0.7 for B/16, 0.95 for L/14).
        clip_model: the architecture stage 2 trained (open_clip name or arch dict); by
            default the one the checkpoint's recorded training config names.
        tokenizer_dir: for ``'local-dir'`` with a SigLIP text tower, the tokenizer folder to
            copy in; by default the one next to ``initial`` (or in a ``local-dir:`` model).

    Returns:
        the ``meta`` written, plus ``tensors`` (the number of tensors written).
    """
    if fmt not in FORMATS:
        raise ValueError(f'format must be one of {FORMATS}, got {fmt!r}')
    loaded = load_checkpoint_file(checkpoint)
    student = student_tower_state(loaded, repr(checkpoint))
    cfg = recorded_config(loaded, repr(checkpoint))
    if clip_model is None:
        clip_model = ((cfg or {}).get('model') or {}).get('clip_model')
    if clip_model is None:
        raise ValueError(f'{checkpoint!r} does not record the CLIP architecture stage 2 trained '
                         '(no model.clip_model in a meta.cfg training config); pass it as '
                         'clip_model (tools/convert_checkpoint.py --clip-model NAME)')
    initial_state = None
    if alpha is not None or fmt in ('open_clip', 'local-dir'):
        if initial is None:
            raise ValueError('weight averaging and the open_clip and local-dir formats need '
                             '--initial, the CLIP weights stage 2 started from')
        initial_state = read_clip_state_dict(initial)
    if alpha is not None:
        student = average_with_initial(
            student, {k: v for k, v in initial_state.items() if k.startswith('visual.')}, alpha)
    if fmt in ('open_clip', 'local-dir'):
        full = OrderedDict((k, v) for k, v in initial_state.items() if not k.startswith('visual.'))
        full.update(student)
        state = to_open_clip_state_dict(full) if fmt == 'open_clip' else full
    else:
        state = student
    meta = artifact_meta('tower', checkpoint, clip_model=plain(clip_model),
                         embed_dim=clip_dims(clip_model)['embed_dim'], format=fmt,
                         method=stage2_method(cfg), alpha=alpha,
                         initial=None if initial is None else str(initial),
                         iter=meta_of(loaded).get('iter'))
    if fmt == 'local-dir':
        export_local_dir(out_path, state, clip_model, tokenizer_dir, source=initial, meta=meta)
    else:
        save_artifact(out_path, state, meta)
    return dict(meta, tensors=len(state))
