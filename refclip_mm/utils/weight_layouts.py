"""Where the package's models keep their weights: one table for every exporter and converter.

A *layout* says which keys of a model's ``state_dict()`` (as saved in its training or
model checkpoint) hold the weights an artifact needs, and under which key they go there:
``(checkpoint prefix, artifact prefix)`` rules; a rule whose prefix does not end with
``'.'`` names one exact key. Canonical CLIP keys are ``visual.*`` / ``text.*`` /
``logit_scale`` (:mod:`refclip_mm.clip.convert`); a Refiner's are its own.

A wrapper prefix (DDP's ``module.``) is stripped from every key before any layout
applies (:func:`refclip_mm.utils.checkpoint.extract_state_dict`).
"""
from collections import OrderedDict
from typing import Dict, List, Mapping, NamedTuple, Optional, Tuple

import torch

from .checkpoint import CheckpointError


class Layout(NamedTuple):
    """The weights of one kind of checkpoint: ``what`` it is, and its key ``rules``."""
    what: str
    rules: Tuple[Tuple[str, str], ...]


# Order matters where a file holds several CLIP image towers: the first layout's tower wins
# (a stage-2 checkpoint's student over any other tower in it).
LAYOUTS: Dict[str, Layout] = OrderedDict(
    stage2=Layout('stage-2 (RLATrainer) checkpoint: the student image tower',
                  (('student.visual.', 'visual.'), )),
    stage0=Layout('stage-0 (ContrastiveCLIPTrainer) checkpoint: both CLIP towers',
                  (('clip.image.visual.', 'visual.'), ('clip.text.text.', 'text.'),
                   ('clip.logit_scale', 'logit_scale'))),
    clip_towers=Layout('CLIPTowers state dict (build_clip)',
                       (('image.visual.', 'visual.'), ('text.text.', 'text.'),
                        ('logit_scale', 'logit_scale'))),
    backbone=Layout('detector / segmentor checkpoint: the CLIPViT / RefinerBackbone tower',
                    (('backbone.tower.visual.', 'visual.'), )),
    stage1=Layout('stage-1 (RefinerTrainer) checkpoint: the Refiner', (('refiner.', ''), )),
)


def _match(key: str, source: str) -> Optional[str]:
    """The rest of ``key`` after rule prefix ``source``, or ``None`` if the rule does not apply."""
    if source.endswith('.'):
        return key[len(source):] if key.startswith(source) else None
    return '' if key == source else None


def select_weights(state_dict: Mapping[str, torch.Tensor], layout: str, under: str = '',
                   source: str = 'checkpoint') -> 'OrderedDict[str, torch.Tensor]':
    """The weights of ``layout`` in ``state_dict``, renamed to the artifact's keys.

    Args:
        state_dict: tensors keyed as the model saved them (wrapper prefix already stripped).
        layout: a key of :data:`LAYOUTS` (``'stage0'``, ``'stage1'``, ``'stage2'``...).
        under: a further prefix the whole model sits under (e.g. ``'clip.'`` for
            ``clip_towers``).
        source: the file, for error messages.

    Raises:
        KeyError: unknown ``layout``.
        CheckpointError: no key of ``state_dict`` fits the layout (the message names the
            layouts the keys do fit, if any).
    """
    if layout not in LAYOUTS:
        raise KeyError(f'unknown weight layout {layout!r}; known: {list(LAYOUTS)}')
    rules = [(under + src, dst) for src, dst in LAYOUTS[layout].rules]
    out = OrderedDict()
    for key, value in state_dict.items():
        for src, dst in rules:
            rest = _match(key, src)
            if rest is not None:
                out[dst + rest] = value
                break
    if not out:
        found = identify_layouts(state_dict)
        hint = (f'it looks like a {LAYOUTS[found[0]].what}' if found else
                f'its top-level prefixes are {sorted({k.split(".", 1)[0] + "." for k in state_dict})[:8]}')
        raise CheckpointError(f'{source} is not a {LAYOUTS[layout].what} (no key starts with '
                              f'{" / ".join(src for src, _ in rules)}); {hint}')
    return out


def identify_layouts(state_dict: Mapping[str, torch.Tensor]) -> List[str]:
    """The layouts (in :data:`LAYOUTS` order) some key of ``state_dict`` fits."""
    return [name for name, layout in LAYOUTS.items()
            if any(_match(key, src) is not None for key in state_dict for src, _ in layout.rules)]


def clip_image_prefixes() -> List[str]:
    """Prefixes under which the layouts keep a CLIP image tower (``'student.'``,
    ``'clip.image.'``, ...), in :data:`LAYOUTS` order: the preference when a file has several."""
    return [src[:-len('visual.')] for layout in LAYOUTS.values() for src, dst in layout.rules
            if dst == 'visual.' and src.endswith('visual.')]


def layout_of_image_prefix(prefix: str) -> Optional[str]:
    """The layout whose image tower sits under ``prefix`` (``'clip.image.'`` -> ``'stage0'``)."""
    for name, layout in LAYOUTS.items():
        if any(dst == 'visual.' and src == prefix + 'visual.' for src, dst in layout.rules):
            return name
    return None
