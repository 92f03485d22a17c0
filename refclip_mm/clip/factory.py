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

A model may also be named ``'local-dir:FOLDER'``, open_clip's folder layout
(``open_clip_config.json``, a weight file, and for SigLIP / SigLIP 2 the Hugging
Face tokenizer files): the architecture, the weights and the tokenizer are then
read from that folder (docs/towers.md, "SigLIP 2 from local files").
"""
import copy
import difflib
import json
import os.path as osp
from typing import Any, Dict, Iterable, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..utils.artifact import artifact_kind, meta_of, plain
from ..utils.checkpoint import (CheckpointError, extract_state_dict, load_checkpoint_file,
                                load_state_dict_checked)
from .convert import (LOCAL_DIR_PREFIX, TOKENIZER_CONFIG, TOKENIZER_VOCABULARIES, how_to_get,
                      local_dir_config, local_dir_of, local_dir_weights, model_folder,
                      preprocess_cfg_for, resolve_weight_file, save_local_dir, split_towers,
                      to_canonical_state_dict)
from .dense import DenseCLIPTower, wrap_image_tower
from .text import CLIPTextTower

ArchType = Union[str, Dict[str, Any]]
TOWERS = ('image', 'text')


def resolve_model_config(name_or_arch: ArchType) -> Tuple[str, Dict[str, Any]]:
    """Return ``(name, config dict)`` for an open_clip model name, a ``'local-dir:FOLDER'`` model
    folder or an architecture dict.

    Raises:
        ValueError: unknown name (the message lists close matches) or a dict
            without ``embed_dim`` / ``vision_cfg``.
        FileNotFoundError: a ``local-dir:`` folder without ``open_clip_config.json``.
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
    folder = local_dir_of(name_or_arch)
    if folder is not None:
        return LOCAL_DIR_PREFIX + folder, local_dir_config(folder)['model_cfg']
    name = name_or_arch.replace('/', '-')
    cfg = open_clip.get_model_config(name) if ':' not in name else None
    if cfg is None:
        available = open_clip.list_models()
        close = difflib.get_close_matches(name, available, n=6, cutoff=0.5)
        hint = f'close matches: {close}' if close else f'{len(available)} names in open_clip.list_models()'
        raise ValueError(f'unknown CLIP model name {name_or_arch!r} ({hint}); or pass an '
                         'architecture dict or a \'local-dir:FOLDER\' model folder')
    return name, cfg


def clip_dims(name_or_arch: ArchType) -> Dict[str, Optional[int]]:
    """``embed_dim`` (joint embedding ``D``) and ``width`` (tower width ``C``) of an open_clip
    model name or arch dict; a timm trunk's width (EVA02, SigLIP 2), which the config does not
    state, is read from the trunk built on the meta device (no weights, no memory)."""
    _, cfg = resolve_model_config(name_or_arch)
    vision = cfg['vision_cfg']
    width = vision.get('width')
    if width is None and vision.get('timm_model_name'):
        import timm

        from . import tiny  # noqa: F401  (registers the tiny test trunks with timm)
        with torch.device('meta'):
            width = int(timm.create_model(vision['timm_model_name'], pretrained=False,
                                          num_classes=0).embed_dim)
    return dict(embed_dim=int(cfg['embed_dim']), width=width)


TRANSFORMERS_PIN = 'transformers==5.25.0'


def hf_tokenizer_name(cfg: Dict[str, Any]) -> Optional[str]:
    """The Hugging Face tokenizer a model's text tower reads (SigLIP, SigLIP 2), or ``None``."""
    return cfg.get('text_cfg', {}).get('hf_tokenizer_name') or None


def find_tokenizer_dir(name: str, cfg: Dict[str, Any], tokenizer_dir: Optional[str] = None,
                       pretrained: Optional[str] = None) -> Optional[str]:
    """The local folder holding the Hugging Face tokenizer of a text tower (``None`` for a model
    with open_clip's own CLIP tokenizer).

    Looked for, in order: ``tokenizer_dir`` (a folder, or a file in it); the model folder of a
    ``'local-dir:FOLDER'`` name; the folder of the ``pretrained`` weight file when it holds
    ``tokenizer_config.json``. Nothing is downloaded.

    Raises:
        FileNotFoundError: no folder found, or one lacking a tokenizer file; the message names
            the file to provide and how to get it on a connected machine.
    """
    hf_name = hf_tokenizer_name(cfg)
    if hf_name is None:
        return None
    where = None
    if tokenizer_dir is not None:
        where = osp.expanduser(str(tokenizer_dir))
        where = osp.dirname(where) if osp.isfile(where) else where
        origin = f'tokenizer_dir {tokenizer_dir!r}'
    elif local_dir_of(name) is not None:
        where, origin = local_dir_of(name), f'the model folder {name!r}'
    elif pretrained is not None and osp.isfile(osp.join(osp.dirname(osp.abspath(pretrained)),
                                                        TOKENIZER_CONFIG)):
        where = osp.dirname(osp.abspath(pretrained))
        origin = f'the folder of the weight file {pretrained!r}'
    if where is None:
        raise FileNotFoundError(
            f'the text tower of {name} needs the Hugging Face tokenizer {hf_name!r} as local '
            f'files ({TOKENIZER_CONFIG} and tokenizer.json), and nothing is downloaded: give the '
            'folder holding them as tokenizer_dir=FOLDER (tools: --tokenizer-dir FOLDER), name '
            'the model \'local-dir:FOLDER\', or keep them next to the weight file; '
            + how_to_get(hf_name))
    if not osp.isdir(where):
        raise FileNotFoundError(f'{origin}: no such folder; it should hold the tokenizer files '
                                f'of {hf_name!r} ({TOKENIZER_CONFIG}, tokenizer.json); '
                                + how_to_get(hf_name))
    missing = [TOKENIZER_CONFIG] if not osp.isfile(osp.join(where, TOKENIZER_CONFIG)) else []
    if not any(osp.isfile(osp.join(where, f)) for f in TOKENIZER_VOCABULARIES):
        missing.append('tokenizer.json')
    if missing:
        raise FileNotFoundError(f'{origin} lacks {" and ".join(missing)} (the tokenizer of '
                                f'{hf_name!r}; provide {osp.join(where, missing[0])}); '
                                + how_to_get(hf_name))
    return where


def check_text_tokenizer(name: str, cfg: Dict[str, Any], tokenizer_dir: Optional[str] = None,
                         pretrained: Optional[str] = None) -> Optional[str]:
    """Check, before building anything, that a text tower's tokenizer can be read offline.

    Returns:
        the local tokenizer folder (:func:`find_tokenizer_dir`), ``None`` for open_clip's own
        CLIP tokenizer.

    Raises:
        FileNotFoundError: tokenizer files missing (see :func:`find_tokenizer_dir`).
        ImportError: a Hugging Face tokenizer without the ``transformers`` package (the message
            names the pinned version and how to install it).
    """
    folder = find_tokenizer_dir(name, cfg, tokenizer_dir, pretrained)
    if folder is None:
        return None
    import importlib.util
    if importlib.util.find_spec('transformers') is None:
        raise ImportError(f'the text tower of {name} reads its Hugging Face tokenizer '
                          f'({folder}) with the `transformers` package, which is not installed: '
                          f'pip install {TRANSFORMERS_PIN} (pinned in requirements.txt; '
                          '`make install` installs it)')
    return folder


def make_tokenizer(name: str, cfg: Dict[str, Any], tokenizer_dir: Optional[str] = None,
                   pretrained: Optional[str] = None):
    """The tokenizer of a text tower: open_clip's ``HFTokenizer`` on a local folder for a model
    with a Hugging Face tokenizer (:func:`check_text_tokenizer`, nothing downloaded), open_clip's
    tokenizer for a named model, or the CLIP BPE tokenizer (``SimpleTokenizer``) otherwise.
    Each returns ``N x context_length`` token ids for a list of strings."""
    import open_clip
    folder = check_text_tokenizer(name, cfg, tokenizer_dir, pretrained)
    text_cfg = cfg.get('text_cfg', {})
    context_length = text_cfg.get('context_length', 77)
    if folder is not None:
        from open_clip.tokenizer import HFTokenizer
        return HFTokenizer(folder, context_length=context_length,
                           tokenizer_mode=text_cfg.get('tokenizer_mode'), local_files_only=True,
                           **text_cfg.get('tokenizer_kwargs', {}))
    if name != 'custom' and local_dir_of(name) is None:
        return open_clip.get_tokenizer(name)
    return open_clip.SimpleTokenizer(context_length=context_length)


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
    """Read a CLIP weight file (or the weight file of a model folder,
    :func:`~refclip_mm.clip.convert.resolve_weight_file`) into the canonical key layout (see
    :mod:`refclip_mm.clip.convert`); ``checkpoint``: the file already loaded.

    Raises:
        FileNotFoundError: ``path`` does not exist, or a folder without a weight file.
        CheckpointError: unreadable file, or no CLIP tower in it.
    """
    if checkpoint is None:
        path = resolve_weight_file(path)
        checkpoint = load_checkpoint_file(path)
    state = extract_state_dict(checkpoint)
    return to_canonical_state_dict(state, eva_trunk=eva_trunk, prefix=prefix, source=repr(path))


class CLIPTowers(nn.Module):
    """The towers built by :func:`build_clip`.

    Attributes:
        image: :class:`~refclip_mm.clip.dense.DenseCLIPTower` or ``None``.
        text: :class:`~refclip_mm.clip.text.CLIPTextTower` or ``None``.
        logit_scale: scalar parameter (log of CLIP's temperature).
        logit_bias: scalar parameter, the bias of a sigmoid-trained tower (SigLIP, SigLIP 2:
            ``sigmoid(logit_scale.exp() * cos + logit_bias)`` is the probability that an image
            and a text match, docs/method.md section 2.4); ``None`` for softmax-trained CLIPs.
        name: the model name (``'custom'`` for arch dicts).
        config: the open_clip architecture dict.
    """

    def __init__(self, image: Optional[DenseCLIPTower], text: Optional[CLIPTextTower],
                 name: str, config: Dict[str, Any], init_logit_scale: float = float(np.log(1 / 0.07)),
                 init_logit_bias: Optional[float] = None):
        super().__init__()
        self.image = image
        self.text = text
        self.name = name
        self.config = config
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))
        self.logit_bias = (None if init_logit_bias is None
                           else nn.Parameter(torch.tensor(float(init_logit_bias))))

    @property
    def sigmoid(self) -> bool:
        """Whether the towers were trained with SigLIP's sigmoid loss (they carry a bias)."""
        return self.logit_bias is not None

    def scores(self) -> Dict[str, Optional[float]]:
        """``{'logit_scale': the scale itself (not its log), 'logit_bias': float or None}``: what
        a class-embedding file records for the consumers that turn cosines into scores."""
        return dict(logit_scale=float(self.logit_scale.detach().exp()),
                    logit_bias=None if self.logit_bias is None else float(self.logit_bias.detach()))


def build_clip(name_or_arch: Optional[ArchType], pretrained: Optional[str] = None,
               towers: Iterable[str] = TOWERS, quick_gelu: Optional[bool] = None,
               checkpoint_prefix: Optional[str] = None, tokenizer_dir: Optional[str] = None,
               **dense_kwargs: Any) -> CLIPTowers:
    """Build CLIP towers and load their weights from local files.

    Args:
        name_or_arch: open_clip model name (``'ViT-B-16'``, ``'EVA02-L-14'``, ...),
            an architecture dict, or ``'local-dir:FOLDER'``, an open_clip model folder
            (``open_clip_config.json``, its weight file, for SigLIP its tokenizer files);
            ``None``: the one ``pretrained`` records (a CLIP or tower file of this package,
            :mod:`refclip_mm.utils.artifact`, or a model folder). A file that records another
            architecture than the one given is refused.
        pretrained: local weight file (open_clip, OpenAI JIT/state dict, EVA-CLIP
            original, a stage-2 or detector checkpoint of this package) or a model folder
            holding one; ``None``: the weight file of a ``local-dir:`` model, else random
            weights.
        towers: which towers to build, a subset of ``('image', 'text')``.
        quick_gelu: override the config's activation (OpenAI and MetaCLIP
            weights need QuickGELU: use the ``-quickgelu`` names or ``True``).
        checkpoint_prefix: prefix of the CLIP keys in the file (auto-detected).
        tokenizer_dir: folder of the Hugging Face tokenizer of a SigLIP / SigLIP 2 text tower
            (``tokenizer_config.json``, ``tokenizer.json``); by default the ``local-dir:``
            folder, or the weight file's folder (:func:`find_tokenizer_dir`).
        **dense_kwargs: options of the image tower (``pad_to_patch``,
            ``window_size``, ``global_blocks``).

    Returns:
        :class:`CLIPTowers` in eval mode.

    Raises:
        ValueError: unknown model name / tower; NotImplementedError: not a ViT.
        FileNotFoundError / CheckpointError: missing file or folder (a tokenizer or weight file
            is named with how to get it), or weights for another architecture (the message
            names the mismatching keys).
        ImportError: a SigLIP text tower without the ``transformers`` package.
    """
    from open_clip.model import _build_text_tower, _build_vision_tower
    towers = tuple(towers)
    unknown = [t for t in towers if t not in TOWERS]
    if unknown or not towers:
        raise ValueError(f'towers must be a non-empty subset of {TOWERS}, got {towers}')
    if name_or_arch is None and pretrained is not None and model_folder(pretrained) is not None:
        name_or_arch = LOCAL_DIR_PREFIX + model_folder(pretrained)
    if pretrained is None and local_dir_of(name_or_arch):
        local_dir_config(local_dir_of(name_or_arch))  # a missing config is named first
        pretrained = local_dir_weights(local_dir_of(name_or_arch))
    elif pretrained is not None:
        pretrained = resolve_weight_file(pretrained)
    checkpoint = load_checkpoint_file(pretrained) if pretrained is not None else None
    name, cfg = resolve_model_config(architecture_for(name_or_arch, checkpoint, pretrained))
    if quick_gelu is not None:
        cfg['quick_gelu'] = bool(quick_gelu)
    act = dict(quick_gelu=cfg.get('quick_gelu', False), cast_dtype=None)
    if 'text' in towers:
        if 'text_cfg' not in cfg:
            raise ValueError(f'{name} has no text_cfg; build only the image tower')
        tokenizer = make_tokenizer(name, cfg, tokenizer_dir, pretrained)  # before the towers

    image = text = None
    if 'image' in towers:
        image = wrap_image_tower(_build_vision_tower(cfg['embed_dim'], cfg['vision_cfg'], **act),
                                 **dense_kwargs)
    if 'text' in towers:
        text = CLIPTextTower(_build_text_tower(cfg['embed_dim'], cfg['text_cfg'], **act),
                             tokenizer)
    init_logit_scale = cfg.get('init_logit_scale', float(np.log(1 / 0.07)))
    model = CLIPTowers(image, text, name, cfg, init_logit_scale=init_logit_scale,
                       init_logit_bias=cfg.get('init_logit_bias'))
    if pretrained is not None:
        load_clip_weights(model, pretrained, checkpoint_prefix, checkpoint)
    return model.eval()


def load_clip_weights(model: CLIPTowers, path: str, prefix: Optional[str] = None,
                      checkpoint: Any = None) -> None:
    """Load a weight file into the towers of ``model`` (strict per built tower), and its logit
    scale and bias; ``checkpoint``: the file already loaded."""
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
    if model.logit_bias is not None and 'logit_bias' in parts['other']:
        model.logit_bias.data.copy_(parts['other']['logit_bias'].reshape(()))


def build_image_tower(name_or_arch: Optional[ArchType], pretrained: Optional[str] = None,
                      **kwargs: Any) -> DenseCLIPTower:
    """Only the image tower: ``build_clip(..., towers=('image',)).image``."""
    return build_clip(name_or_arch, pretrained, towers=('image', ), **kwargs).image


def build_text_tower(name_or_arch: Optional[ArchType], pretrained: Optional[str] = None,
                     **kwargs: Any) -> CLIPTextTower:
    """Only the text tower: ``build_clip(..., towers=('text',)).text``."""
    return build_clip(name_or_arch, pretrained, towers=('text', ), **kwargs).text


def export_local_dir(folder: str, state_dict: Dict[str, torch.Tensor], clip_model: ArchType,
                     tokenizer_dir: Optional[str] = None, source: Optional[str] = None,
                     meta: Optional[Dict[str, Any]] = None) -> str:
    """Write canonical CLIP weights as open_clip's model folder (:func:`save_local_dir`), which
    ``open_clip.create_model_and_transforms('local-dir:FOLDER')`` and :func:`build_clip` load.

    Args:
        folder: output folder.
        state_dict: canonical weights (``visual.*``, ``text.*``, ``logit_scale``, ``logit_bias``).
        clip_model: their architecture (model name, ``local-dir:`` folder or arch dict).
        tokenizer_dir: the Hugging Face tokenizer to copy in (SigLIP); by default found as for
            :func:`build_clip` (the ``local-dir:`` folder, or ``source``'s folder).
        source: the weight file (or model folder) the text tower comes from; a model folder's
            image normalisation is kept.
        meta: provenance, kept in ``open_clip_config.json``.

    Returns:
        ``'local-dir:FOLDER'``.
    """
    name, cfg = resolve_model_config(clip_model)
    has_text = any(k.startswith('text.') for k in state_dict)
    weights = None if source is None else resolve_weight_file(source)
    tokenizer = find_tokenizer_dir(name, cfg, tokenizer_dir, weights) if has_text else None
    source_folder = None if source is None else model_folder(source)
    if source_folder is None and weights is not None:
        source_folder = model_folder(osp.dirname(osp.abspath(weights)))
    preprocess = (local_dir_config(source_folder)['preprocess_cfg'] if source_folder
                  else preprocess_cfg_for(name, cfg))
    return save_local_dir(folder, state_dict, cfg, tokenizer, preprocess, meta)
