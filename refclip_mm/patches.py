"""Every process-wide change ``import refclip_mm`` makes to other packages, and how to undo it.

``import refclip_mm`` (directly, or through a config's ``custom_imports``) applies the changes
below, for the whole process. Each fixes a real breakage of the stack in docs/install.md:

``checkpoint_loader``
    mmengine's local checkpoint loader (``CheckpointLoader._schemes['']``, used by ``load_from``,
    ``--resume`` and ``load_checkpoint``) is replaced by the package's safe loader
    (:func:`refclip_mm.utils.checkpoint.load_checkpoint_file`). Why: mmengine 0.10's loader calls
    ``torch.load`` with torch >= 2.6's ``weights_only=True`` default and fails on the metadata of
    mmengine's own checkpoints, so ``--resume`` breaks.
``local_backend``
    mmengine's ``'local'`` file backend (``backends['local']`` and ``prefix_to_backends['']`` in
    ``mmengine.fileio.backends.registry_utils``) becomes :class:`AtomicLocalBackend`, whose
    ``put`` / ``put_text`` write a temporary file and rename it. Why: ``CheckpointHook`` writes
    checkpoints and ``last_checkpoint`` in place, so a run killed while saving leaves a truncated
    checkpoint that ``--resume`` then picks up.
``lvis_numpy``
    ``lvis.eval.np`` (lvis's own reference to numpy) becomes a view of numpy that also has the
    aliases numpy 1.24 removed (``np.float`` ...); numpy itself is untouched. Only when lvis is
    installed and numpy lacks ``np.float``. Why: lvis 0.5.3 (imported by mmdet's ``LVISMetric``)
    still calls ``np.float``.

Turning them off:

* the environment variable ``REFCLIP_MM_PATCHES``, read once at ``import refclip_mm``: unset,
  empty, ``1``/``all``/``on``/``true`` apply everything (the default); ``0``/``none``/``off``/
  ``false`` apply nothing; a comma-separated list of names (``checkpoint_loader,local_backend``)
  applies only those; a list of ``-name`` items (``-lvis_numpy``) applies all but those;
* at run time, :func:`restore_originals` puts back the exact objects that were there before
  (all, or the names given) and :func:`apply` applies them again. :func:`applied` lists what is
  in effect now. Call them before building a ``Runner``: a hook that already holds a file
  backend instance keeps it.
"""
import os
import sys
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Union

import numpy
from mmengine.fileio import io as mmengine_io
from mmengine.fileio.backends import LocalBackend, register_backend, registry_utils
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

from .utils.atomic import atomic_write
from .utils.checkpoint import _mmengine_local_loader
from .utils.lvis_compat import _NumpyWithRemovedAliases, numpy_lacks_removed_aliases

ENV_VAR = 'REFCLIP_MM_PATCHES'
_ALL = ('', '1', 'all', 'on', 'true', 'yes')
_NONE = ('0', 'none', 'off', 'false', 'no')

# what each patch replaced, captured when it was applied: restore_originals puts these back
_originals: Dict[str, Dict[str, object]] = {}


class Patch(NamedTuple):
    """One process-wide change: what it replaces, why, and its apply / restore / check."""
    name: str
    replaces: str
    why: str
    apply: Callable[[], None]
    restore: Callable[[], None]
    is_applied: Callable[[], bool]


# ---- checkpoint_loader ---------------------------------------------------------------------


def _loader_apply() -> None:
    current = CheckpointLoader._schemes.get('')
    if current is _mmengine_local_loader:
        return
    _originals['checkpoint_loader'] = {'': current}
    CheckpointLoader.register_scheme(prefixes='', loader=_mmengine_local_loader, force=True)


def _loader_restore() -> None:
    if CheckpointLoader._schemes.get('') is _mmengine_local_loader:  # else: not ours any more
        original = _originals.get('checkpoint_loader', {}).get('', load_from_local)
        CheckpointLoader._schemes[''] = original


def _loader_applied() -> bool:
    return CheckpointLoader._schemes.get('') is _mmengine_local_loader


# ---- local_backend -------------------------------------------------------------------------


class AtomicLocalBackend(LocalBackend):
    """mmengine's LocalBackend whose writes are atomic (temporary file + rename)."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        atomic_write(str(filepath), lambda f: f.write(obj))

    def put_text(self, obj: str, filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


def _backend_slots():
    return (('backends', registry_utils.backends, 'local'),
            ('prefix_to_backends', registry_utils.prefix_to_backends, ''))


def _drop_cached_backends(cls: type) -> None:
    """Forget ``get_file_backend``'s cached instances of exactly ``cls``."""
    for key, backend in list(mmengine_io.backend_instances.items()):
        if type(backend) is cls:
            del mmengine_io.backend_instances[key]


def _backend_apply() -> None:
    if _backend_applied():
        return
    _originals.setdefault('local_backend', {}).update(
        (slot, table.get(key)) for slot, table, key in _backend_slots()
        if table.get(key) is not AtomicLocalBackend)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    _drop_cached_backends(LocalBackend)  # instances cached before the swap


def _backend_restore() -> None:
    originals = _originals.get('local_backend', {})
    for slot, table, key in _backend_slots():
        if table.get(key) is AtomicLocalBackend:
            table[key] = originals.get(slot, LocalBackend)
    _drop_cached_backends(AtomicLocalBackend)


def _backend_applied() -> bool:
    return all(table.get(key) is AtomicLocalBackend for _, table, key in _backend_slots())


# ---- lvis_numpy ----------------------------------------------------------------------------


def _lvis_apply() -> None:
    if not numpy_lacks_removed_aliases():
        return
    try:
        import lvis.eval as lvis_eval
    except ImportError:
        return
    if not isinstance(lvis_eval.np, _NumpyWithRemovedAliases):
        _originals['lvis_numpy'] = {'np': lvis_eval.np}
        lvis_eval.np = _NumpyWithRemovedAliases()


def _lvis_restore() -> None:
    lvis_eval = sys.modules.get('lvis.eval')  # not imported: nothing was patched
    if lvis_eval is not None and isinstance(getattr(lvis_eval, 'np', None),
                                            _NumpyWithRemovedAliases):
        lvis_eval.np = _originals.get('lvis_numpy', {}).get('np', numpy)


def _lvis_applied() -> bool:
    lvis_eval = sys.modules.get('lvis.eval')
    return isinstance(getattr(lvis_eval, 'np', None), _NumpyWithRemovedAliases)


PATCHES: Dict[str, Patch] = {p.name: p for p in (
    Patch('checkpoint_loader', "mmengine CheckpointLoader's local loader (prefix '')",
          "mmengine 0.10's loader fails under torch >= 2.6 (weights_only=True) on its own "
          'checkpoints, which breaks --resume; ours reads them safely',
          _loader_apply, _loader_restore, _loader_applied),
    Patch('local_backend', "mmengine's 'local' file backend (name 'local', prefix '')",
          'writes become atomic (temporary file + rename): a run killed while saving no longer '
          'leaves a truncated checkpoint or last_checkpoint for --resume',
          _backend_apply, _backend_restore, _backend_applied),
    Patch('lvis_numpy', 'lvis.eval.np (only if lvis is installed and numpy lacks np.float)',
          'lvis 0.5.3 (mmdet LVISMetric) calls np.float, removed in numpy 1.24; only lvis.eval '
          'sees the aliases, numpy itself is untouched',
          _lvis_apply, _lvis_restore, _lvis_applied),
)}


def _names(names: Optional[Union[str, Iterable[str]]]) -> List[str]:
    if names is None:
        return list(PATCHES)
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in PATCHES]
    if unknown:
        raise ValueError(f'unknown refclip_mm patch(es) {unknown}; known: {list(PATCHES)}')
    return [n for n in PATCHES if n in names]  # always in PATCHES' order


def apply(names: Optional[Union[str, Iterable[str]]] = None) -> List[str]:
    """Apply the named patches (default: all); already applied ones are left as they are.

    Returns:
        the requested names now in effect (``lvis_numpy`` is skipped where it is not needed).
    """
    names = _names(names)
    for name in names:
        PATCHES[name].apply()
    return [n for n in names if PATCHES[n].is_applied()]


def restore_originals(names: Optional[Union[str, Iterable[str]]] = None) -> List[str]:
    """Undo the named patches (default: all): put back the exact objects they replaced.

    A patch whose object was replaced again since (by someone else) is left alone.

    Returns:
        the requested names that were in effect and are now undone.
    """
    restored = []
    for name in _names(names):
        if PATCHES[name].is_applied():
            PATCHES[name].restore()
            restored.append(name)
    return restored


def applied() -> List[str]:
    """The names of the patches in effect now."""
    return [n for n, patch in PATCHES.items() if patch.is_applied()]


def names_from_environment(value: Optional[str] = None) -> List[str]:
    """The patches ``REFCLIP_MM_PATCHES`` selects (``value`` overrides reading the variable)."""
    if value is None:
        value = os.environ.get(ENV_VAR, '')
    value = value.strip()
    if value.lower() in _ALL:
        return list(PATCHES)
    if value.lower() in _NONE:
        return []
    items = [item.strip() for item in value.split(',') if item.strip()]
    excluded = [item[1:] for item in items if item.startswith('-')]
    if excluded and len(excluded) != len(items):
        raise ValueError(f'{ENV_VAR}={value!r} mixes names and -names; give either the patches '
                         f'to apply or, each with a leading -, the ones to leave out')
    try:
        if excluded:
            return [n for n in PATCHES if n not in _names(excluded)]
        return _names(items)
    except ValueError as error:
        raise ValueError(f'{ENV_VAR}={value!r}: {error}') from None
