"""The Refiner file: a trained Refiner and the metadata that rebuilds it without any config.

Written by :func:`export_refiner` (``tools/export_refiner.py``) from a stage-1 checkpoint, or
by :func:`save_refiner` from a built :class:`~refclip_mm.models.backbones.Refiner`; read by
:func:`load_refiner_file`, through which
:meth:`RefinedTower.from_file <refclip_mm.models.refined_tower.RefinedTower.from_file>` builds
it for ``RefinerBackbone`` and the stage-2 SCD teacher. The file is an
artifact of kind ``'refiner'`` (:mod:`refclip_mm.utils.artifact`) whose ``meta`` holds

* ``refiner_cfg``: ``Refiner(**refiner_cfg)``, complete: ``dim`` (token width), ``depth``,
  ``num_heads``, ``mlp_ratio``;
* ``token_space``: ``'projected'`` (refines the projected dense map, ``dim`` = the CLIP's
  ``embed_dim``) or ``'width'`` (refines before the projection, ``dim`` = the tower width);
* the CLIP it was trained on: ``clip_model`` (open_clip name or arch dict), ``clip_embed_dim``,
  ``clip_width``, ``dense_mode``;
* ``source`` (the stage-1 checkpoint) and ``iter``.

Older files (no ``meta.artifact``) still load, with a :class:`LegacyArtifactWarning` naming the
command that rewrites them: exported files through their partial ``refiner_cfg`` (Refiner
defaults fill the rest), stage-1 training checkpoints through the training config they record.
"""
import inspect
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn

from ..clip.factory import clip_dims
from ..utils.artifact import (WRITERS, artifact_kind, artifact_meta, check_artifact_meta, meta_of,
                              plain, recorded_model_cfg, save_artifact, warn_legacy)
from ..utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file
from ..utils.weight_layouts import identify_layouts, select_weights

TOKEN_SPACES = ('projected', 'width')
ARCH_KEYS = ('dim', 'depth', 'num_heads', 'mlp_ratio')


@dataclass
class RefinerFile:
    """A loaded Refiner file.

    Attributes:
        state_dict: the Refiner's tensors (its own keys, no prefix).
        arch: ``Refiner(**arch)``: ``dim``, ``depth``, ``num_heads``, ``mlp_ratio``.
        token_space: ``'projected'`` or ``'width'``.
        meta: the whole metadata (the CLIP it was trained on, source, iteration).
        path: the file.
    """
    state_dict: Dict[str, torch.Tensor]
    arch: Dict[str, Any]
    token_space: str
    meta: Dict[str, Any]
    path: str


def refiner_defaults() -> Dict[str, Any]:
    """The :class:`Refiner` constructor's defaults (``depth``, ``num_heads``, ``mlp_ratio``)."""
    from .backbones.refiner import Refiner
    return {name: p.default for name, p in inspect.signature(Refiner.__init__).parameters.items()
            if name in ARCH_KEYS and p.default is not inspect.Parameter.empty}


def mlp_ratio_of(hidden: int, dim: int) -> float:
    """The ``mlp_ratio`` for which the Refiner's MLP width ``int(dim * mlp_ratio)`` is ``hidden``."""
    ratio = hidden / dim
    return ratio if int(dim * ratio) == hidden else (hidden + 0.5) / dim


def refiner_arch(refiner: nn.Module) -> Dict[str, Any]:
    """``dim``, ``depth``, ``num_heads``, ``mlp_ratio`` of a built :class:`Refiner`."""
    block = refiner.blocks[0]
    return dict(dim=int(refiner.dim), depth=len(refiner.blocks), num_heads=int(block.attn.num_heads),
                mlp_ratio=mlp_ratio_of(block.mlp[0].out_features, int(refiner.dim)))


def arch_from_state(state: Dict[str, torch.Tensor], source: str) -> Dict[str, Any]:
    """What a Refiner's tensors tell of its shape: ``dim``, ``depth``, ``mlp_ratio`` (not the heads)."""
    if 'out.weight' not in state or 'blocks.0.mlp.0.weight' not in state:
        raise CheckpointError(f'{source} holds no Refiner weights (no out.weight / blocks.0.*); '
                              f'first keys: {sorted(state)[:8]}')
    dim = int(state['out.weight'].shape[0])
    depth = len({k.split('.')[1] for k in state if k.startswith('blocks.')})
    return dict(dim=dim, depth=depth,
                mlp_ratio=mlp_ratio_of(int(state['blocks.0.mlp.0.weight'].shape[0]), dim))


def refiner_meta(arch: Dict[str, Any], token_space: str, clip_model: Any, dense_mode: str = 'value',
                 source: Optional[str] = None, iteration: Optional[int] = None) -> Dict[str, Any]:
    """The ``meta`` of a Refiner file (checked: complete ``arch``, known ``token_space``)."""
    missing = [k for k in ARCH_KEYS if k not in arch]
    if missing:
        raise ValueError(f'the Refiner architecture lacks {missing}; it needs {ARCH_KEYS}')
    if token_space not in TOKEN_SPACES:
        raise ValueError(f'token_space must be one of {TOKEN_SPACES}, got {token_space!r}')
    dims = clip_dims(clip_model) if clip_model is not None else dict(embed_dim=None, width=None)
    return artifact_meta('refiner', source, refiner_cfg={k: arch[k] for k in ARCH_KEYS},
                         token_space=token_space, clip_model=plain(clip_model),
                         clip_embed_dim=dims['embed_dim'], clip_width=dims['width'],
                         dense_mode=dense_mode, iter=iteration)


def save_refiner(refiner: nn.Module, path: str, token_space: str, clip_model: Any,
                 dense_mode: str = 'value', source: Optional[str] = None,
                 iteration: Optional[int] = None) -> Dict[str, Any]:
    """Write a built Refiner as a Refiner file (atomically); returns the ``meta`` written.

    Args:
        refiner: the :class:`Refiner`.
        path: output file.
        token_space: where in the tower it refines (``'projected'`` / ``'width'``).
        clip_model: the CLIP it was trained on (open_clip name or arch dict).
        dense_mode, source, iteration: recorded as they are.
    """
    meta = refiner_meta(refiner_arch(refiner), token_space, clip_model, dense_mode, source, iteration)
    save_artifact(path, {k: v.detach().cpu() for k, v in refiner.state_dict().items()}, meta)
    return meta


# --------------------------------------------------------------------------- reading
def _from_training_checkpoint(checkpoint: Any, source: str) -> Tuple[dict, dict, dict]:
    """``(state, arch, facts)`` of a stage-1 training checkpoint: shapes from its tensors, the
    heads (and a cross-check) from the training config it records; ``facts`` holds
    ``token_space``, ``clip_model``, ``dense_mode``, ``iter``."""
    state = select_weights(extract_state_dict(checkpoint), 'stage1', source=source)
    arch = dict(refiner_defaults(), **arch_from_state(state, source))
    model_cfg = recorded_model_cfg(checkpoint, source) or {}
    configured = {k: v for k, v in dict(model_cfg.get('refiner') or {}).items() if k in ARCH_KEYS}
    width = int(arch['dim'] * arch['mlp_ratio'])
    clash = {k: (v, arch[k]) for k, v in configured.items()
             if (k in ('dim', 'depth') and v != arch[k])
             or (k == 'mlp_ratio' and int(arch['dim'] * v) != width)}
    if clash:
        raise CheckpointError(f'{source}: the recorded config and the weights disagree on '
                              f'{clash} (config, weights)')
    arch.update(configured)
    facts = dict(token_space=model_cfg.get('token_space', 'projected'),
                 clip_model=model_cfg.get('clip_model'),
                 dense_mode=model_cfg.get('dense_mode', 'value'),
                 iter=meta_of(checkpoint).get('iter'))
    return state, arch, facts


def _from_legacy_export(checkpoint: Any, source: str) -> Tuple[dict, dict, dict]:
    """``(state, arch, facts)`` of a file written by the earlier ``export_refiner`` (a partial
    ``meta.refiner_cfg``; the Refiner's defaults and its tensors fill the rest)."""
    meta = meta_of(checkpoint)
    state = extract_state_dict(checkpoint)
    recorded = {k: v for k, v in dict(meta['refiner_cfg']).items() if k in ARCH_KEYS}
    arch = dict(refiner_defaults(), **arch_from_state(state, source))
    arch.update(recorded)
    facts = dict(token_space=meta.get('token_space', 'projected'), clip_model=meta.get('clip_model'),
                 dense_mode=meta.get('dense_mode', 'value'), iter=meta.get('iter'),
                 source=meta.get('source'))
    return state, arch, facts


def _describe(checkpoint: Any, path: str, warn: bool) -> RefinerFile:
    """A loaded file -> :class:`RefinerFile` (older files through their fallbacks)."""
    source = repr(str(path))
    meta = meta_of(checkpoint)
    if artifact_kind(checkpoint) is not None:
        check_artifact_meta(meta, 'refiner', source)
        return RefinerFile(extract_state_dict(checkpoint), dict(meta['refiner_cfg']),
                           meta['token_space'], meta, str(path))
    if isinstance(meta.get('refiner_cfg'), dict):
        state, arch, facts = _from_legacy_export(checkpoint, source)
        how = 'its partial meta.refiner_cfg was completed with the Refiner defaults'
    elif 'stage1' in identify_layouts(extract_state_dict(checkpoint)):
        state, arch, facts = _from_training_checkpoint(checkpoint, source)
        how = ('it is a stage-1 training checkpoint, read through the training config it '
               'records')
    else:
        raise CheckpointError(f'{source} is not a Refiner file (no meta.artifact and no '
                              f'refiner.* weights); write one with {WRITERS["refiner"]}')
    if warn:
        warn_legacy(str(path), 'refiner', how)
    if facts['token_space'] not in TOKEN_SPACES:
        raise CheckpointError(f'{source} records token_space {facts["token_space"]!r}; expected '
                              f'one of {TOKEN_SPACES}')
    legacy_meta = dict(refiner_cfg=arch, source=facts.get('source', str(path)), **{
        k: v for k, v in facts.items() if k != 'source'})
    return RefinerFile(state, arch, facts['token_space'], legacy_meta, str(path))


def load_refiner_file(path: str) -> RefinerFile:
    """Read a Refiner file once (see the module docstring for the older files it still takes).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a Refiner file, or its metadata is incomplete (the message
            names the command that writes one).
    """
    return _describe(load_checkpoint_file(path), path, warn=True)


def export_refiner(checkpoint: str, out_path: str) -> Dict[str, Any]:
    """Write the Refiner of a stage-1 checkpoint as a Refiner file (atomically).

    Also rewrites a Refiner file of an earlier version in the current format. The
    architecture comes from the checkpoint's tensors, the heads and the CLIP from the
    training config the checkpoint records.

    Returns:
        the ``meta`` written.
    """
    refiner_file = _describe(load_checkpoint_file(checkpoint), checkpoint, warn=False)
    meta = refiner_file.meta
    if meta.get('clip_model') is None:
        raise CheckpointError(f'{checkpoint!r} does not record the CLIP the Refiner was trained on '
                              '(no clip_model in its training config or metadata)')
    written = refiner_meta(refiner_file.arch, refiner_file.token_space, meta['clip_model'],
                           meta.get('dense_mode', 'value'), meta.get('source') or str(checkpoint),
                           meta.get('iter'))
    save_artifact(out_path, refiner_file.state_dict, written)
    return written
