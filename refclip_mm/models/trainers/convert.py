"""Turn a stage-2 checkpoint into weights for CLIPViT / F-ViT / the segmentor, or open_clip."""
from collections import OrderedDict
from typing import Dict, Optional

import torch

from ...clip import read_clip_state_dict
from ...clip.convert import to_open_clip_state_dict
from ...utils.atomic import atomic_torch_save
from ...utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file

FORMATS = ('tower', 'open_clip')


def student_tower_state(checkpoint: str) -> 'OrderedDict[str, torch.Tensor]':
    """The fine-tuned image tower of a stage-2 checkpoint, keys ``visual.*``."""
    state = extract_state_dict(load_checkpoint_file(checkpoint), prefix='student.')
    if not any(k.startswith('visual.') for k in state):
        raise CheckpointError(f'{checkpoint!r} has no student.visual.* weights: is it a stage-2 '
                              '(RLATrainer) checkpoint?')
    return state


def average_with_initial(student: Dict[str, torch.Tensor], initial: Dict[str, torch.Tensor],
                         alpha: float) -> 'OrderedDict[str, torch.Tensor]':
    """``alpha * student + (1 - alpha) * initial`` for every floating tensor (METHOD.md section 5)."""
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
                              initial: Optional[str] = None, alpha: Optional[float] = None) -> dict:
    """Write the stage-2 student tower in a loadable form.

    Args:
        checkpoint: stage-2 training checkpoint (keys ``student.visual.*``).
        out_path: output file (written atomically).
        fmt: ``'tower'``: ``visual.*`` keys, what ``CLIPViT(pretrained=...)`` /
            ``build_image_tower`` load (F-ViT and the segmentor use CLIPViT);
            ``'open_clip'``: a complete open_clip state dict that
            ``open_clip.create_model(name, pretrained=out_path)`` loads (text
            tower and logit scale taken from ``initial``).
        initial: the CLIP weights stage 2 started from (needed for ``alpha``
            and for ``'open_clip'``).
        alpha: if given, save ``alpha * student + (1 - alpha) * initial``
            (0.7 for B/16, 0.95 for L/14).

    Returns:
        a summary dict (format, number of tensors, alpha).
    """
    if fmt not in FORMATS:
        raise ValueError(f'format must be one of {FORMATS}, got {fmt!r}')
    student = student_tower_state(checkpoint)
    initial_state = None
    if alpha is not None or fmt == 'open_clip':
        if initial is None:
            raise ValueError('weight averaging and the open_clip format need --initial, the CLIP '
                             'weights stage 2 started from')
        initial_state = read_clip_state_dict(initial)
    if alpha is not None:
        student = average_with_initial(
            student, {k: v for k, v in initial_state.items() if k.startswith('visual.')}, alpha)
    if fmt == 'open_clip':
        full = OrderedDict((k, v) for k, v in initial_state.items() if not k.startswith('visual.'))
        full.update(student)
        state = to_open_clip_state_dict(full)
    else:
        state = student
    meta = dict(format=fmt, source=str(checkpoint), alpha=alpha, initial=initial,
                tensors=len(state))
    atomic_torch_save(dict(state_dict=state, meta=meta) if fmt == 'tower' else state, out_path)
    return meta
