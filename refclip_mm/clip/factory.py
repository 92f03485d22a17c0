"""Build CLIP towers from a model name (or an architecture dict) and a local weight file.

:func:`build_clip` is the one way in; :func:`build_image_tower` and
:func:`build_text_tower` are shorthands for a single tower. Architectures come
from open_clip's model configs (``open_clip.list_models()``: ViT-B-16,
ViT-L-14, ViT-L-14-336, ViT-H-14, the ``-quickgelu`` variants used by OpenAI
and MetaCLIP weights, EVA02-B-16, EVA02-L-14, EVA02-L-14-336, ...) or from an
explicit dict in the same format (``embed_dim``, ``vision_cfg``,
``text_cfg``, optional ``quick_gelu`` / ``custom_text``), e.g.
:data:`refclip_mm.clip.tiny.TINY_OPENAI_ARCH`. Towers are built with
open_clip's own tower builders, so their parameters and keys are exactly
open_clip's. Weights are read with the package's checkpoint loader and mapped
by :mod:`refclip_mm.clip.convert`; nothing is downloaded.
"""
import copy
import difflib
import json
from typing import Any, Dict, Iterable, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..utils.artifact import artifact_kind, meta_of, plain
from ..utils.checkpoint import (CheckpointError, extract_state_dict, load_checkpoint_file,
                                load_state_dict_checked)
from .convert import split_towers, to_canonical_state_dict
from .dense import DenseCLIPTower, wrap_image_tower
from .text import CLIPTextTower

ArchType = Union[str, Dict[str, Any]]
TOWERS = ('image', 'text')


def resolve_model_config(name_or_arch: ArchType) -> Tuple[str, Dict[str, Any]]:
    """Return ``(name, config dict)`` for an open_clip model name or an architecture dict.

    Raises:
        ValueError: unknown name (the message lists close matches) or a dict
            without ``embed_dim`` / ``vision_cfg``.
    """
    import open_clip
    if isinstance(name_or_arch, dict):
        cfg = copy.deepcopy(name_or_arch)
        missing = [k for k in ('embed_dim', 'vision_cfg') if k not in cfg]
        if missing:
            raise ValueError(f'architecture dict lacks {missing}; it needs embed_dim, vision_cfg '
                             'and text_cfg like open_clip\'s model_configs/*.json')
        return str(cfg.pop('name', 'custom')), cfg
    if not isinstance(name_or_arch, str):
        raise TypeError(f'expected an open_clip model name or an architecture dict, got '
                        f'{type(name_or_arch).__name__}')
    name = name_or_arch.replace('/', '-')
    cfg = open_clip.get_model_config(name) if ':' not in name else None
    if cfg is None:
        available = open_clip.list_models()
        close = difflib.get_close_matches(name, available, n=6, cutoff=0.5)
        hint = f'close matches: {close}' if close else f'{len(available)} names in open_clip.list_models()'
        raise ValueError(f'unknown CLIP model name {name_or_arch!r} ({hint}); or pass an '
                         'architecture dict')
    return name, cfg


def clip_dims(name_or_arch: ArchType) -> Dict[str, Optional[int]]:
    """``embed_dim`` (joint embedding ``D``) and ``width`` (tower width ``C``, ``None`` where the
    config does not state it, as for timm trunks) of an open_clip model name or arch dict."""
    _, cfg = resolve_model_config(name_or_arch)
    return dict(embed_dim=int(cfg['embed_dim']), width=cfg['vision_cfg'].get('width'))


def check_text_tokenizer(name: str, cfg: Dict[str, Any]) -> None:
    """Refuse a text tower whose tokenizer is a Hugging Face one (SigLIP, SigLIP 2, ...).

    open_clip would load it through the ``transformers`` package, which is not a dependency of
    this package, by downloading the tokenizer; nothing here downloads, and reading a local
    tokenizer folder is not supported yet. The image tower of such a model builds as usual.

    Raises:
        NotImplementedError: naming the tokenizer, the missing dependency and the local folder.
    """
    hf_name = cfg.get('text_cfg', {}).get('hf_tokenizer_name')
    if not hf_name:
        return
    import importlib.util
    installed = importlib.util.find_spec('transformers') is not None
    raise NotImplementedError(
        f'the text tower of {name} needs the Hugging Face tokenizer {hf_name!r}, which is not '
        'supported yet: it needs the `transformers` package (not a dependency of refclip_mm; '
        f'{"installed" if installed else "not installed"} here) and a local copy of the '
        'tokenizer folder, and no option reads one. Build only the image tower '
        '(towers=("image",), build_image_tower)')


def make_tokenizer(name: str, cfg: Dict[str, Any]):
    """open_clip tokenizer for a named model, or the CLIP BPE tokenizer for an arch dict."""
    import open_clip
    check_text_tokenizer(name, cfg)
    if name != 'custom':
        return open_clip.get_tokenizer(name)
    text_cfg = cfg.get('text_cfg', {})
    return open_clip.SimpleTokenizer(context_length=text_cfg.get('context_length', 77))


# the artifact kinds whose metadata records the CLIP architecture of their weights
DESCRIBED_KINDS = ('clip', 'tower')


def same_architecture(a: ArchType, b: ArchType) -> bool:
    """Whether two model names / arch dicts resolve to the same open_clip config."""
    def canonical(arch):
        return json.dumps(plain(resolve_model_config(arch)[1]), sort_keys=True)
    return canonical(a) == canonical(b)


def architecture_for(name_or_arch: Optional[ArchType], checkpoint: Any, path: Optional[str],
                     ) -> ArchType:
    """The architecture to build for a loaded weight file: ``name_or_arch`` checked against the
    one a CLIP or tower file records (its ``meta.clip_model``), or that one when
    ``name_or_arch`` is ``None``.

    Raises:
        ValueError: no architecture given and none recorded.
        CheckpointError: the given and the recorded architectures differ (both are named).
    """
    recorded = (meta_of(checkpoint).get('clip_model')
                if artifact_kind(checkpoint) in DESCRIBED_KINDS else None)
    if name_or_arch is None:
        if recorded is None:
            where = f'{path!r} does not record one' if path else 'no weight file is given'
            raise ValueError(f'no CLIP architecture: set clip_model (an open_clip model name or '
                             f'an architecture dict); {where}')
        return recorded
    if recorded is not None and not same_architecture(name_or_arch, recorded):
        raise CheckpointError(f'{path!r} holds a CLIP of architecture {recorded!r} (its '
                              f'meta.clip_model), but {name_or_arch!r} was asked for: set '
                              'clip_model to the file\'s architecture, or leave it out to take '
                              'it from the file')
    return name_or_arch


def read_clip_state_dict(path: str, prefix: Optional[str] = None,
                         eva_trunk: Optional[nn.Module] = None,
                         checkpoint: Any = None) -> Dict[str, torch.Tensor]:
    """Read a CLIP weight file into the canonical key layout (see :mod:`refclip_mm.clip.convert`);
    ``checkpoint``: the file already loaded.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: unreadable file, or no CLIP tower in it.
    """
    if checkpoint is None:
        checkpoint = load_checkpoint_file(path)
    state = extract_state_dict(checkpoint)
    return to_canonical_state_dict(state, eva_trunk=eva_trunk, prefix=prefix, source=repr(path))


class CLIPTowers(nn.Module):
    """The towers built by :func:`build_clip`.

    Attributes:
        image: :class:`~refclip_mm.clip.dense.DenseCLIPTower` or ``None``.
        text: :class:`~refclip_mm.clip.text.CLIPTextTower` or ``None``.
        logit_scale: scalar parameter (log of CLIP's temperature).
        name: the model name (``'custom'`` for arch dicts).
        config: the open_clip architecture dict.
    """

    def __init__(self, image: Optional[DenseCLIPTower], text: Optional[CLIPTextTower],
                 name: str, config: Dict[str, Any], init_logit_scale: float = float(np.log(1 / 0.07))):
        super().__init__()
        self.image = image
        self.text = text
        self.name = name
        self.config = config
        self.logit_scale = nn.Parameter(torch.tensor(init_logit_scale))


def build_clip(name_or_arch: Optional[ArchType], pretrained: Optional[str] = None,
               towers: Iterable[str] = TOWERS, quick_gelu: Optional[bool] = None,
               checkpoint_prefix: Optional[str] = None, **dense_kwargs: Any) -> CLIPTowers:
    """Build CLIP towers and load their weights from a local file.

    Args:
        name_or_arch: open_clip model name (``'ViT-B-16'``, ``'EVA02-L-14'``, ...)
            or an architecture dict; ``None``: the one ``pretrained`` records (a CLIP or
            tower file of this package, :mod:`refclip_mm.utils.artifact`). A file that
            records another architecture than the one given is refused.
        pretrained: local weight file (open_clip, OpenAI JIT/state dict, EVA-CLIP
            original, a stage-2 or detector checkpoint of this package), or
            ``None`` for random weights.
        towers: which towers to build, a subset of ``('image', 'text')``.
        quick_gelu: override the config's activation (OpenAI and MetaCLIP
            weights need QuickGELU: use the ``-quickgelu`` names or ``True``).
        checkpoint_prefix: prefix of the CLIP keys in the file (auto-detected).
        **dense_kwargs: options of the image tower (``pad_to_patch``,
            ``window_size``, ``global_blocks``).

    Returns:
        :class:`CLIPTowers` in eval mode.

    Raises:
        ValueError: unknown model name / tower; NotImplementedError: not a ViT, or a text
            tower with a Hugging Face tokenizer (SigLIP / SigLIP 2: build the image tower only).
        FileNotFoundError / CheckpointError: missing file, or weights for
            another architecture (the message names the mismatching keys).
    """
    from open_clip.model import _build_text_tower, _build_vision_tower
    towers = tuple(towers)
    unknown = [t for t in towers if t not in TOWERS]
    if unknown or not towers:
        raise ValueError(f'towers must be a non-empty subset of {TOWERS}, got {towers}')
    checkpoint = load_checkpoint_file(pretrained) if pretrained is not None else None
    name, cfg = resolve_model_config(architecture_for(name_or_arch, checkpoint, pretrained))
    if quick_gelu is not None:
        cfg['quick_gelu'] = bool(quick_gelu)
    act = dict(quick_gelu=cfg.get('quick_gelu', False), cast_dtype=None)
    if 'text' in towers:
        check_text_tokenizer(name, cfg)  # before building anything

    image = text = None
    if 'image' in towers:
        image = wrap_image_tower(_build_vision_tower(cfg['embed_dim'], cfg['vision_cfg'], **act),
                                 **dense_kwargs)
    if 'text' in towers:
        if 'text_cfg' not in cfg:
            raise ValueError(f'{name} has no text_cfg; build only the image tower')
        text = CLIPTextTower(_build_text_tower(cfg['embed_dim'], cfg['text_cfg'], **act),
                             make_tokenizer(name, cfg))
    init_logit_scale = cfg.get('init_logit_scale', float(np.log(1 / 0.07)))
    model = CLIPTowers(image, text, name, cfg, init_logit_scale=init_logit_scale)
    if pretrained is not None:
        load_clip_weights(model, pretrained, checkpoint_prefix, checkpoint)
    return model.eval()


def load_clip_weights(model: CLIPTowers, path: str, prefix: Optional[str] = None,
                      checkpoint: Any = None) -> None:
    """Load a weight file into the towers of ``model`` (strict per built tower);
    ``checkpoint``: the file already loaded."""
    trunk = getattr(model.image.visual, 'trunk', None) if model.image is not None else None
    parts = split_towers(read_clip_state_dict(path, prefix=prefix, eva_trunk=trunk,
                                              checkpoint=checkpoint))
    if model.image is not None:
        load_state_dict_checked(model.image, parts['image'], source=repr(path))
    if model.text is not None:
        if not parts['text']:
            raise CheckpointError(f'{path!r} has no text-tower weights (it holds only an image '
                                  'tower?); build with towers=("image",)')
        load_state_dict_checked(model.text, parts['text'], source=repr(path))
    if 'logit_scale' in parts['other']:
        model.logit_scale.data.copy_(parts['other']['logit_scale'].reshape(()))


def build_image_tower(name_or_arch: Optional[ArchType], pretrained: Optional[str] = None,
                      **kwargs: Any) -> DenseCLIPTower:
    """Only the image tower: ``build_clip(..., towers=('image',)).image``."""
    return build_clip(name_or_arch, pretrained, towers=('image', ), **kwargs).image


def build_text_tower(name_or_arch: Optional[ArchType], pretrained: Optional[str] = None,
                     **kwargs: Any) -> CLIPTextTower:
    """Only the text tower: ``build_clip(..., towers=('text',)).text``."""
    return build_clip(name_or_arch, pretrained, towers=('text', ), **kwargs).text
