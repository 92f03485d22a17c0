"""Self-describing artifacts: the model files the package writes for later stages to load.

An artifact file is ``{'state_dict': tensors, 'meta': meta}``. ``meta`` is made of plain
Python values (the file loads with ``torch.load(weights_only=True)``, and open_clip's own
loader reads its ``state_dict``) and always holds:

* ``artifact``: the kind, one of :data:`KINDS` (``'refiner'``, ``'clip'``, ``'tower'``);
* ``format_version``: :data:`FORMAT_VERSION`;
* ``source``: the checkpoint it was made from; plus each kind's own fields
  (:data:`REQUIRED_FIELDS`; docs/training.md, "Artifact files").

Loaders read an artifact's metadata, never the training config that made it. Only the
exporters that turn a training checkpoint into an artifact read that config, through
:func:`recorded_model_cfg`.
"""
import warnings
from typing import Any, Dict, Optional, Tuple

from .checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file

FORMAT_VERSION = 1
KINDS = ('refiner', 'clip', 'tower')
# what each kind's meta must hold (beyond artifact / format_version / source)
REQUIRED_FIELDS = {
    'refiner': ('refiner_cfg', 'token_space', 'clip_model'),
    'clip': ('clip_model', 'embed_dim'),
    'tower': ('clip_model', 'embed_dim', 'format'),
}
# the command that writes (or rewrites) each kind
WRITERS = {
    'refiner': 'python tools/export_refiner.py STAGE1_CHECKPOINT OUT.pth',
    'clip': "python -c \"from refclip_mm.models.trainers import export_stage0_checkpoint; "
            "export_stage0_checkpoint('STAGE0_CHECKPOINT', 'OUT.pth')\"",
    'tower': 'python tools/convert_checkpoint.py STAGE2_CHECKPOINT OUT.pth',
}


class LegacyArtifactWarning(FutureWarning):
    """A file without artifact metadata was loaded the old way; rewrite it (the message says how)."""


def artifact_meta(kind: str, source: Optional[str], **fields: Any) -> Dict[str, Any]:
    """The ``meta`` of a ``kind`` artifact made from ``source``; checks the required fields."""
    if kind not in KINDS:
        raise ValueError(f'artifact kind must be one of {KINDS}, got {kind!r}')
    meta = dict(artifact=kind, format_version=FORMAT_VERSION,
                source=None if source is None else str(source), **fields)
    check_artifact_meta(meta, kind, 'the metadata being written')
    return meta


def save_artifact(path: str, state_dict: Dict[str, Any], meta: Dict[str, Any]) -> None:
    """Write ``{'state_dict': ..., 'meta': ...}`` to ``path`` atomically."""
    from .atomic import atomic_torch_save
    if meta.get('artifact') not in KINDS:
        raise ValueError(f'meta.artifact must be one of {KINDS}, got {meta.get("artifact")!r}')
    check_artifact_meta(meta, meta['artifact'], 'the metadata being written')
    atomic_torch_save(dict(state_dict=dict(state_dict), meta=meta), path)


def meta_of(checkpoint: Any) -> Dict[str, Any]:
    """The ``meta`` dict of a loaded file (``{}`` if it has none)."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    return meta if isinstance(meta, dict) else {}


def artifact_kind(checkpoint: Any) -> Optional[str]:
    """The artifact kind a loaded file records, or ``None`` (not an artifact, or an older file)."""
    return meta_of(checkpoint).get('artifact')


def check_artifact_meta(meta: Dict[str, Any], kind: str, source: str) -> None:
    """Raise :class:`CheckpointError` unless ``meta`` describes a ``kind`` artifact of this
    package's format; the message names the file and the command that rewrites it."""
    found = meta.get('artifact')
    if found != kind:
        what = f'a {found!r} artifact' if found else 'no artifact metadata (meta.artifact)'
        raise CheckpointError(f'{source} holds {what}, not a {kind!r} file; write one with '
                              f'{WRITERS.get(kind, "the exporter of that kind")}')
    if meta.get('format_version') != FORMAT_VERSION:
        raise CheckpointError(f'{source} is a {kind!r} file of format version '
                              f'{meta.get("format_version")!r}; this package reads version '
                              f'{FORMAT_VERSION}: rewrite it with {WRITERS[kind]}')
    missing = [f for f in ('source', ) + REQUIRED_FIELDS[kind] if f not in meta]
    missing += [f for f in REQUIRED_FIELDS[kind] if f in meta and meta[f] is None]
    if missing:
        raise CheckpointError(f'{source}: the {kind!r} metadata lacks {missing}; rewrite it with '
                              f'{WRITERS[kind]}')


def read_artifact(path: str, kind: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Load a ``kind`` artifact once: ``(state_dict, meta)``, the metadata checked."""
    checkpoint = load_checkpoint_file(path)
    meta = meta_of(checkpoint)
    check_artifact_meta(meta, kind, repr(str(path)))
    return extract_state_dict(checkpoint), meta


def warn_legacy(path: str, kind: str, how: str) -> None:
    """Warn that ``path`` has no artifact metadata and was read ``how``; name the rewrite command."""
    warnings.warn(f'{path!r} has no {kind!r} artifact metadata (written by an older version of '
                  f'refclip_mm, or not an exported file); {how}. This fallback will be removed: '
                  f'rewrite it with {WRITERS[kind]}', LegacyArtifactWarning, stacklevel=4)


def recorded_config(checkpoint: Any, source: str) -> Optional[Dict[str, Any]]:
    """The training config an mmengine checkpoint records (``meta.cfg``) as a dict, or ``None``.

    Only exporters (training checkpoint -> artifact) use it: it is how an artifact learns
    the architecture its weights belong to.
    """
    text = meta_of(checkpoint).get('cfg')
    if not isinstance(text, str):
        return None
    from mmengine.config import Config
    try:
        return Config.fromstring(text, '.py').to_dict()
    except Exception as err:  # mmengine raises several types for a broken config text
        raise CheckpointError(f'{source}: the training config recorded in meta.cfg cannot be '
                              f'parsed: {err}') from err


def recorded_model_cfg(checkpoint: Any, source: str) -> Optional[Dict[str, Any]]:
    """The ``model`` part of :func:`recorded_config`, or ``None``."""
    cfg = recorded_config(checkpoint, source)
    return None if cfg is None or cfg.get('model') is None else dict(cfg['model'])


def plain(value: Any) -> Any:
    """``value`` with mmengine ConfigDicts (and other dict / list subclasses) as plain dicts /
    lists / tuples: what ``torch.load(weights_only=True)`` reads back."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
