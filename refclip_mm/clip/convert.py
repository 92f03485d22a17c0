"""Turn the CLIP weight files we accept into one canonical key layout.

Canonical layout (what :func:`refclip_mm.clip.build_clip` loads): open_clip's
keys with the text tower under ``text.``, i.e. ``visual.*`` (image tower),
``text.*`` (text tower), ``logit_scale`` (and ``logit_bias``).

Accepted inputs (all read by :func:`refclip_mm.utils.checkpoint.load_checkpoint_file`):

* open_clip checkpoints, either layout (text keys at the top level, as in
  ``CLIP``, or under ``text.``, as in ``CustomTextCLIP``);
* OpenAI's original files (TorchScript archives or plain state dicts): same
  keys as open_clip's ``CLIP`` plus a few integer entries, which are dropped;
* EVA-CLIP's original checkpoints (``visual.blocks.*``, ``visual.rope.*``,
  ``mlp.w1/w2/w3``, ...): the image keys are mapped to timm's ``Eva`` names
  with timm's own converter and prefixed with ``visual.trunk.``;
* any checkpoint whose CLIP keys sit under a prefix: the package's own
  training and model checkpoints (a stage-2 ``student.visual.*``, a stage-0
  ``clip.image.visual.*`` / ``clip.text.text.*``, a detector/segmentor
  ``backbone.tower.visual.*``: the table of
  :mod:`refclip_mm.utils.weight_layouts`), a DDP ``module.`` wrapper, or
  any other prefix (found from where the image tower's keys start).

:func:`to_open_clip_state_dict` goes the other way: canonical keys -> the file
``open_clip.create_model(name, pretrained=file)`` loads.
"""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional

import torch
from torch import nn

from ..utils.checkpoint import CheckpointError
from ..utils.weight_layouts import clip_image_prefixes, layout_of_image_prefix, select_weights

# keys that identify where the image tower starts (prefix detection)
VISUAL_ANCHORS = ('visual.conv1.weight', 'visual.trunk.patch_embed.proj.weight',
                  'visual.patch_embed.proj.weight')
# non-tensor bookkeeping entries of OpenAI / EVA files
DROPPED_KEYS = ('input_resolution', 'context_length', 'vocab_size', 'text.attn_mask', 'attn_mask')


def find_clip_prefixes(state_dict: Mapping[str, torch.Tensor]) -> List[str]:
    """Prefixes under which a CLIP image tower's keys appear (``''`` for none)."""
    found = set()
    for key in state_dict:
        for anchor in VISUAL_ANCHORS:
            if key.endswith(anchor):
                found.add(key[:-len(anchor)])
    return sorted(found)


def strip_clip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: Optional[str] = None,
                      source: str = 'checkpoint') -> 'OrderedDict[str, torch.Tensor]':
    """Keep the CLIP keys of a state dict and strip the prefix they sit under.

    ``prefix`` (e.g. ``'backbone.'``, ``'student.'``) is stripped first if
    given; then the remaining prefix of the image tower's keys is detected. If
    several towers are found, the first of the package's layouts wins (a
    stage-2 checkpoint's ``student.``); a prefix that belongs to one of those
    layouts is mapped with its rules (a stage-0 checkpoint's text tower comes along).
    """
    if prefix:
        selected = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                               if k.startswith(prefix))
        if not selected:
            raise CheckpointError(f'no key of {source} starts with {prefix!r}; CLIP towers found '
                                  f'under {find_clip_prefixes(state_dict) or "no prefix"}')
        state_dict = selected
    prefixes = find_clip_prefixes(state_dict)
    if not prefixes:
        some = sorted(state_dict)[:8]
        raise CheckpointError(f'{source} holds no CLIP image tower (no key ends with '
                              f'{" / ".join(VISUAL_ANCHORS)}); first keys: {some}')
    if len(prefixes) > 1:
        preferred = [p for p in clip_image_prefixes() if p in prefixes]
        if not preferred:
            raise CheckpointError(f'{source} holds several CLIP towers under prefixes {prefixes}; '
                                  'pass the one to load as checkpoint_prefix')
        prefixes = preferred[:1]
    found = prefixes[0]
    if not found:
        return OrderedDict(state_dict)
    layout = layout_of_image_prefix(found)
    if layout is not None:
        return select_weights(state_dict, layout, source=source)
    return OrderedDict((k[len(found):], v) for k, v in state_dict.items() if k.startswith(found))


def is_eva_original(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """True for EVA-CLIP's original key layout (image keys directly under ``visual.``)."""
    return 'visual.patch_embed.proj.weight' in state_dict and not any(
        k.startswith('visual.trunk.') for k in state_dict)


def convert_eva_original(state_dict: Mapping[str, torch.Tensor],
                         trunk: nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """Map EVA-CLIP's original image keys to ``visual.trunk.*`` (timm ``Eva`` names).

    Uses timm's EVA checkpoint filter (q/v biases, SwiGLU and sub-LN renames,
    rope buffers dropped); text and other keys pass through unchanged.
    """
    from timm.models.eva import checkpoint_filter_fn
    visual = {k: v for k, v in state_dict.items() if k.startswith('visual.')}
    out = OrderedDict((k, v) for k, v in state_dict.items() if not k.startswith('visual.'))
    for key, value in checkpoint_filter_fn(visual, trunk).items():
        out['visual.trunk.' + key] = value
    return out


def to_canonical_state_dict(state_dict: Mapping[str, torch.Tensor], eva_trunk: Optional[nn.Module] = None,
                            prefix: Optional[str] = None,
                            source: str = 'checkpoint') -> 'OrderedDict[str, torch.Tensor]':
    """Any accepted CLIP state dict -> canonical ``visual.* / text.* / logit_scale`` keys.

    Args:
        state_dict: tensors from :func:`refclip_mm.utils.checkpoint.extract_state_dict`.
        eva_trunk: the timm ``Eva`` trunk being loaded (needed for EVA's original files).
        prefix: strip this prefix instead of detecting it (e.g. ``'student.'``).
        source: the file, for error messages.
    """
    from open_clip.model import convert_to_custom_text_state_dict
    sd = strip_clip_prefix(state_dict, prefix, source)
    for key in DROPPED_KEYS:
        sd.pop(key, None)
    if is_eva_original(sd):
        if eva_trunk is None:
            raise CheckpointError(f'{source} is an EVA-CLIP checkpoint (keys visual.blocks.*) but the '
                                  'model being built is not an EVA tower; use an EVA02-* model name')
        sd = convert_eva_original(sd, eva_trunk)
    return OrderedDict(convert_to_custom_text_state_dict(dict(sd)))


# top-level text keys of open_clip's ``CLIP`` (they sit under ``text.`` in ``CustomTextCLIP``)
CLIP_TEXT_PREFIXES = ('token_embedding', 'positional_embedding', 'transformer', 'ln_final',
                      'text_projection')


def to_open_clip_state_dict(state_dict: Mapping[str, torch.Tensor]
                            ) -> 'OrderedDict[str, torch.Tensor]':
    """Canonical state dict -> the layout plain ``open_clip.create_model(name, pretrained=file)`` loads.

    A text tower built by open_clip's own ``TextTransformer`` (``text.token_embedding``,
    ``text.positional_embedding``, ...) moves to the top level, as in open_clip's ``CLIP`` (the
    ``ViT-*`` models). Models with ``custom_text`` (``EVA02-*``) load that layout too: open_clip
    moves such keys back under ``text.`` when it loads them. Any other text tower (a Hugging
    Face one) keeps its ``text.*`` keys, which is the only layout its ``CustomTextCLIP`` has.
    Image keys and ``logit_scale`` / ``logit_bias`` are unchanged.
    """
    own_text = 'text.token_embedding.weight' in state_dict and 'text.positional_embedding' in state_dict
    out = OrderedDict()
    for key, value in state_dict.items():
        if own_text and key.startswith('text.') and key[len('text.'):].startswith(CLIP_TEXT_PREFIXES):
            key = key[len('text.'):]
        if key in out:
            raise CheckpointError(f'two entries for {key!r} in the open_clip state dict')
        out[key] = value
    return out


def split_towers(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, 'OrderedDict[str, torch.Tensor]']:
    """Canonical state dict -> ``{'image': visual.*, 'text': text.*, 'other': the rest}``."""
    parts: Dict[str, OrderedDict] = {'image': OrderedDict(), 'text': OrderedDict(), 'other': OrderedDict()}
    for key, value in state_dict.items():
        part = 'image' if key.startswith('visual.') else 'text' if key.startswith('text.') else 'other'
        parts[part][key] = value
    return parts
