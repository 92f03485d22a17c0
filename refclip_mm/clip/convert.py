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
``open_clip.create_model(name, pretrained=file)`` loads, and :func:`save_local_dir` writes
open_clip's model folder (``open_clip_config.json``, ``open_clip_model.safetensors``, the
tokenizer files of a SigLIP text tower) that ``open_clip.create_model('local-dir:FOLDER')``
and :func:`refclip_mm.clip.build_clip` load; :func:`local_dir_weights` and
:func:`local_dir_config` read such a folder.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional

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
    moves such keys back under ``text.`` when it loads them, which it recognises by a top-level
    ``text_projection`` matrix. A tower whose projection is a linear layer with a bias (SigLIP,
    SigLIP 2: ``text.text_projection.weight``) has only the ``CustomTextCLIP`` layout and keeps
    its ``text.*`` keys, as does any other text tower (a Hugging Face one).
    Image keys and ``logit_scale`` / ``logit_bias`` are unchanged.
    """
    own_text = ('text.token_embedding.weight' in state_dict and 'text.positional_embedding' in state_dict
                and 'text.text_projection' in state_dict)
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


# open_clip's model folders ('local-dir:FOLDER')
LOCAL_DIR_PREFIX = 'local-dir:'
LOCAL_DIR_CONFIG = 'open_clip_config.json'
# weight files of a model folder, in the order open_clip prefers them
WEIGHT_FILE_NAMES = ('open_clip_model.safetensors', 'open_clip_pytorch_model.safetensors',
                     'open_clip_pytorch_model.bin', 'open_clip_pytorch_model.pth',
                     'model.safetensors', 'pytorch_model.bin', 'pytorch_model.pth', 'model.pth')
WEIGHT_SUFFIXES = ('.safetensors', '.bin', '.pth')
# a Hugging Face tokenizer folder: the config, one of the vocabularies, optional extras
TOKENIZER_CONFIG = 'tokenizer_config.json'
TOKENIZER_VOCABULARIES = ('tokenizer.json', 'tokenizer.model', 'spiece.model', 'vocab.json',
                          'vocab.txt')
TOKENIZER_FILES = (TOKENIZER_CONFIG, ) + TOKENIZER_VOCABULARIES + (
    'special_tokens_map.json', 'added_tokens.json', 'merges.txt')
# SigLIP's image normalisation (open_clip's pretrained configs of the SigLIP models)
SIGLIP_PREPROCESS = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], interpolation='bicubic',
                         resize_mode='squash')


def how_to_get(repo: str) -> str:
    """How to copy a model folder from its Hugging Face page on a connected machine."""
    folder = 'checkpoints/' + repo.split('/')[-1]
    return (f'on a machine with internet access, python -c "from huggingface_hub import '
            f'snapshot_download; snapshot_download(\'{repo}\', local_dir=\'{folder}\')" '
            f'fetches the weights and the tokenizer files into {folder}/; copy that folder '
            'here (docs/towers.md, "SigLIP 2 from local files")')


def local_dir_of(name: Any) -> Optional[str]:
    """The folder of a ``'local-dir:FOLDER'`` model name (``~`` expanded), else ``None``."""
    if isinstance(name, str) and name.startswith(LOCAL_DIR_PREFIX):
        folder = name[len(LOCAL_DIR_PREFIX):]
        if not folder:
            raise ValueError(f'{name!r} names no folder after {LOCAL_DIR_PREFIX!r}')
        return osp.expanduser(folder)
    return None


def model_folder(path: Any) -> Optional[str]:
    """The folder of a ``local-dir:`` name, or ``path`` itself when it is a folder holding
    ``open_clip_config.json``; ``None`` otherwise."""
    folder = local_dir_of(path)
    if folder is not None:
        return folder
    if isinstance(path, str) and osp.isfile(osp.join(osp.expanduser(path), LOCAL_DIR_CONFIG)):
        return osp.expanduser(path)
    return None


def local_dir_config(folder: str) -> Dict[str, Any]:
    """``open_clip_config.json`` of a model folder: ``model_cfg`` (the architecture) and
    ``preprocess_cfg`` (image normalisation; may be empty).

    Raises:
        FileNotFoundError: no folder, or no config file in it (named, with how to get one).
        ValueError: a config without ``model_cfg``.
    """
    path = osp.join(folder, LOCAL_DIR_CONFIG)
    if not osp.isfile(path):
        what = 'no such folder' if not osp.isdir(folder) else f'it lacks {LOCAL_DIR_CONFIG}'
        raise FileNotFoundError(
            f'model folder {folder!r}: {what}; provide {path} (open_clip\'s folder layout: '
            f'{LOCAL_DIR_CONFIG}, {WEIGHT_FILE_NAMES[0]}, for SigLIP the tokenizer files): '
            'tools/convert_checkpoint.py --format local-dir writes one from a weight file; '
            + how_to_get('timm/<model>'))
    with open(path, encoding='utf-8') as f:
        config = json.load(f)
    if not isinstance(config, dict) or not isinstance(config.get('model_cfg'), dict):
        raise ValueError(f'{path} has no model_cfg (the open_clip architecture dict); it is not '
                         'an open_clip model folder config')
    return dict(model_cfg=config['model_cfg'], preprocess_cfg=config.get('preprocess_cfg') or {})


def local_dir_weights(folder: str) -> str:
    """The weight file of a model folder, chosen as open_clip chooses it.

    Raises:
        FileNotFoundError: naming the file to provide and how to get it.
    """
    for name in WEIGHT_FILE_NAMES:
        if osp.isfile(osp.join(folder, name)):
            return osp.join(folder, name)
    others = sorted((n for n in (os.listdir(folder) if osp.isdir(folder) else [])
                     if n.endswith(WEIGHT_SUFFIXES)), key=lambda n: (not n.endswith('.safetensors'), n))
    if others:
        return osp.join(folder, others[0])
    repo = None
    if osp.isfile(osp.join(folder, LOCAL_DIR_CONFIG)):
        repo = local_dir_config(folder)['model_cfg'].get('text_cfg', {}).get('hf_tokenizer_name')
    raise FileNotFoundError(
        f'model folder {folder!r} holds no weight file: provide '
        f'{osp.join(folder, WEIGHT_FILE_NAMES[0])} (or {", ".join(WEIGHT_FILE_NAMES[1:3])}); '
        + how_to_get(repo or 'timm/<model>'))


def resolve_weight_file(path: str) -> str:
    """``path``, or the weight file of the model folder it names (a ``local-dir:`` name or a
    folder, :func:`local_dir_weights`)."""
    folder = local_dir_of(path)
    if folder is None and isinstance(path, str) and osp.isdir(osp.expanduser(path)):
        folder = osp.expanduser(path)
    return path if folder is None else local_dir_weights(folder)


def preprocess_cfg_for(name: str, cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """Image normalisation for a model folder's ``preprocess_cfg``: a model folder's own, open_clip's
    first pretrained configuration of a named model, SigLIP's for other sigmoid-trained archs
    (``init_logit_bias``), else empty (open_clip's defaults, OpenAI's mean and std)."""
    import open_clip
    folder = local_dir_of(name)
    if folder is not None:
        return dict(local_dir_config(folder)['preprocess_cfg'])
    tags = open_clip.list_pretrained_tags_by_model(name) if name in open_clip.list_models() else []
    if tags:
        pretrained = open_clip.get_pretrained_cfg(name, tags[0])
        return {k: list(v) if isinstance(v, tuple) else v for k, v in pretrained.items()
                if k in ('mean', 'std', 'interpolation', 'resize_mode')}
    return dict(SIGLIP_PREPROCESS) if 'init_logit_bias' in cfg else {}


def save_local_dir(folder: str, state_dict: Mapping[str, torch.Tensor], model_cfg: Mapping[str, Any],
                   tokenizer_dir: Optional[str] = None,
                   preprocess_cfg: Optional[Mapping[str, Any]] = None,
                   meta: Optional[Mapping[str, Any]] = None) -> str:
    """Write open_clip's model folder for ``open_clip.create_model('local-dir:FOLDER')``.

    Args:
        folder: the output folder (created; files already there are replaced one by one, each
            written completely before it replaces the old one).
        state_dict: canonical CLIP weights (``visual.*``, ``text.*``, ``logit_scale``,
            ``logit_bias``), moved to open_clip's layout (:func:`to_open_clip_state_dict`) and
            saved as ``open_clip_model.safetensors``.
        model_cfg: the open_clip architecture dict (``open_clip_config.json``'s ``model_cfg``).
        tokenizer_dir: folder of the Hugging Face tokenizer, copied in; required when
            ``model_cfg``'s text tower names one (SigLIP, SigLIP 2).
        preprocess_cfg: image normalisation (:func:`preprocess_cfg_for`).
        meta: provenance, kept under ``refclip_mm`` in ``open_clip_config.json`` (open_clip
            reads only ``model_cfg`` and ``preprocess_cfg``).

    Returns:
        ``'local-dir:FOLDER'``.
    """
    from safetensors.torch import save_file
    text_cfg = model_cfg.get('text_cfg') or {}
    has_text = any(k.startswith('text.') for k in state_dict)
    tokenizer_files = []
    if text_cfg.get('hf_tokenizer_name') and has_text:
        if tokenizer_dir is None:
            raise ValueError(f'the text tower reads the Hugging Face tokenizer '
                             f'{text_cfg["hf_tokenizer_name"]!r}: give the folder holding its '
                             f'files ({TOKENIZER_CONFIG}, tokenizer.json) as tokenizer_dir '
                             '(tools/convert_checkpoint.py --tokenizer-dir FOLDER)')
        tokenizer_files = [osp.join(tokenizer_dir, n) for n in TOKENIZER_FILES
                           if osp.isfile(osp.join(tokenizer_dir, n))]
        if not any(osp.basename(f) == TOKENIZER_CONFIG for f in tokenizer_files):
            raise FileNotFoundError(f'tokenizer folder {tokenizer_dir!r} lacks {TOKENIZER_CONFIG}; '
                                    + how_to_get(text_cfg['hf_tokenizer_name']))
    tensors = {k: v.detach().cpu().contiguous() for k, v in to_open_clip_state_dict(state_dict).items()}
    config = dict(model_cfg=json.loads(json.dumps(dict(model_cfg))),
                  preprocess_cfg=dict(preprocess_cfg or {}))
    if meta:
        config['refclip_mm'] = json.loads(json.dumps(dict(meta), default=str))
    folder = osp.expanduser(folder)
    os.makedirs(folder, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.local-dir.', suffix='.part', dir=folder)
    try:
        save_file(tensors, osp.join(staging, WEIGHT_FILE_NAMES[0]))
        with open(osp.join(staging, LOCAL_DIR_CONFIG), 'w', encoding='utf-8') as f:
            json.dump(config, f, indent=2)
        for path in tokenizer_files:
            shutil.copyfile(path, osp.join(staging, osp.basename(path)))
        for name in os.listdir(staging):
            os.replace(osp.join(staging, name), osp.join(folder, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return LOCAL_DIR_PREFIX + folder
