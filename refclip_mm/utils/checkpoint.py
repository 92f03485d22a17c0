"""The package's one checkpoint loader.

Every stage (mmengine's Runner included, for ``load_from`` and ``--resume``)
reads checkpoints through :func:`load_checkpoint_file`:

* ``.safetensors`` files are read with safetensors (no pickle at all);
* pickled files (``.pth``/``.pt``/``.bin``) are read with
  ``torch.load(weights_only=True)`` plus an explicit allow-list of the few
  non-tensor types mmengine writes into its training checkpoints (its
  ``HistoryBuffer`` and the numpy arrays/scalars inside it). Anything else is
  refused with an error naming the type: no arbitrary code runs on load;
* TorchScript archives (OpenAI's original CLIP ``.pt`` files) are opened with
  ``torch.jit.load`` on the CPU and only their tensors are kept.

:func:`extract_state_dict` unwraps ``state_dict``/``model``/``module``
containers and wrapper (``module.``) prefixes; :func:`load_state_dict_checked` loads it
into a module and reports missing, unexpected and mis-shaped keys by name.
"""
import importlib
import os
import pickle
import zipfile
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import nn

SAFETENSORS_SUFFIXES = ('.safetensors', )
MAX_KEYS_IN_MESSAGE = 8


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or does not fit the model."""


def _history_buffer_method(owner: Any, name: str) -> Any:
    """``getattr`` restricted to what a pickled mmengine ``HistoryBuffer`` needs.

    A HistoryBuffer's state holds its statistics methods (``HistoryBuffer.mean``...),
    which pickle writes as ``getattr(HistoryBuffer, 'mean')``. Allowing the real
    ``getattr`` would let a crafted file reach any attribute of any allowed
    object (and from there, code execution), so only public functions defined
    on HistoryBuffer itself are handed out.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    member = vars(HistoryBuffer).get(name) if owner is HistoryBuffer else None
    if name.startswith('_') or not callable(member):
        raise pickle.UnpicklingError(
            f'checkpoint asks for attribute {name!r} of {owner!r}; only public HistoryBuffer '
            'methods may be looked up while loading')
    return member


def _mmengine_checkpoint_types() -> List[Any]:
    """Non-tensor types found in mmengine training checkpoints."""
    from mmengine.logging.history_buffer import HistoryBuffer
    types: List[Any] = [HistoryBuffer, np.ndarray, np.dtype,
                        (_history_buffer_method, 'builtins.getattr'),
                        (_history_buffer_method, '__builtin__.getattr')]
    multiarray = importlib.import_module(
        'numpy._core.multiarray' if np.__version__.startswith('2') else 'numpy.core.multiarray')
    types += [multiarray._reconstruct, multiarray.scalar]
    # concrete dtype classes (numpy >= 1.25 pickles dtypes through them)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        types += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType')]
    return types


_EXTRA_ALLOWED: List[Any] = []


def allow_checkpoint_types(types: Iterable[Any]) -> None:
    """Add classes/functions that pickled checkpoints may contain.

    Use it for a checkpoint you trust that stores extra metadata objects;
    prefer re-saving such files as ``.safetensors``.
    """
    _EXTRA_ALLOWED.extend(types)


def _is_torchscript_archive(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('constants.pkl') for name in archive.namelist())


TRUST_ENV = 'REFCLIP_TRUST_CHECKPOINTS'


def trusting_all_checkpoints() -> bool:
    """True when the user set ``REFCLIP_TRUST_CHECKPOINTS=1`` (``--trust-checkpoint`` of the tools)."""
    return os.environ.get(TRUST_ENV, '') == '1'


def load_checkpoint_file(path: str, map_location: Any = 'cpu', trusted: bool = False) -> Any:
    """Read a checkpoint file safely (see module docstring).

    Args:
        path: local file path (``~`` expanded).
        map_location: as for :func:`torch.load`.
        trusted: unpickle *anything* in the file (``weights_only=False``): only
            for files you trust, since a crafted pickle runs code on load. Also
            switched on for every load by ``REFCLIP_TRUST_CHECKPOINTS=1``.

    Returns:
        Whatever the file holds: usually a dict (a state dict or an mmengine
        checkpoint with ``state_dict``/``meta``/``optimizer``...).

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file is corrupt, truncated, or contains objects
            outside the allow-list.
    """
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path!r}')
    if path.endswith(SAFETENSORS_SUFFIXES):
        from safetensors.torch import load_file
        try:
            device = map_location if isinstance(map_location, str) else 'cpu'
            return load_file(path, device=device)
        except Exception as err:  # safetensors raises several error types
            raise CheckpointError(f'{path!r} is not a readable safetensors file: {err}') from err
    if _is_torchscript_archive(path):
        try:
            scripted = torch.jit.load(path, map_location='cpu')
        except Exception as err:
            raise CheckpointError(f'{path!r} looks like a TorchScript archive but cannot be '
                                  f'opened: {err}') from err
        return OrderedDict((k, v.to(map_location) if isinstance(map_location, (str, torch.device))
                            else v) for k, v in scripted.state_dict().items())
    if trusted or trusting_all_checkpoints():
        return torch.load(path, map_location=map_location, weights_only=False)
    allowed = _mmengine_checkpoint_types() + _EXTRA_ALLOWED
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        message = str(err)
        refused = [line for line in message.splitlines() if 'unsupported global' in line.lower()]
        if refused or 'not an allowed global' in message:
            first_line = (refused or message.splitlines())[0]
            raise CheckpointError(
                f'{path!r} contains a pickled object outside the allow-list '
                f'({first_line.strip()}). Only tensors and mmengine checkpoint metadata are '
                'loaded by default; if you trust this file, allow that type with '
                'refclip_mm.utils.checkpoint.allow_checkpoint_types([...]), load it with '
                'trusted=True (tools: --trust-checkpoint), or re-save it as .safetensors.') from err
        raise CheckpointError(f'{path!r} is not a readable checkpoint: {err}') from err
    except Exception as err:  # arbitrary bytes fail anywhere in the unpickler (IndexError, ...)
        raise CheckpointError(f'{path!r} is not a readable checkpoint (corrupt or truncated '
                              f'file?): {type(err).__name__}: {err}') from err


STATE_DICT_CONTAINER_KEYS = ('state_dict', 'model', 'module', 'model_state_dict')
WRAPPER_PREFIXES = ('module.', )


def strip_wrapper(key: str) -> str:
    """``key`` without a leading wrapper prefix (``module.``)."""
    for prefix in WRAPPER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def extract_state_dict(checkpoint: Any, prefix: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """Return the tensor state dict inside a loaded checkpoint.

    Unwraps nested ``state_dict``/``model``/``module`` containers and strips a
    wrapper prefix (DDP's ``module.``, :data:`WRAPPER_PREFIXES`)
    from every key. Which keys of a model hold which artifact's weights is
    :mod:`refclip_mm.utils.weight_layouts`' business.

    Args:
        checkpoint: result of :func:`load_checkpoint_file`.
        prefix: if given (e.g. ``'student.'``), keep only keys starting with it
            and strip it; raises if none does.
    """
    state = checkpoint
    while isinstance(state, Mapping):
        inner = next((k for k in STATE_DICT_CONTAINER_KEYS
                      if isinstance(state.get(k), Mapping)), None)
        if inner is None or any(isinstance(v, torch.Tensor) for v in state.values()):
            break
        state = state[inner]
    if not isinstance(state, Mapping):
        raise CheckpointError(f'checkpoint holds a {type(state).__name__}, not a state dict')
    tensors = OrderedDict()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        tensors[strip_wrapper(key)] = value
    if prefix:
        selected = OrderedDict((k[len(prefix):], v) for k, v in tensors.items()
                               if k.startswith(prefix))
        if not selected:
            prefixes = sorted({k.split('.', 1)[0] + '.' for k in tensors})
            raise CheckpointError(f'no key of the checkpoint starts with {prefix!r}; its top-level '
                                  f'prefixes are {prefixes[:MAX_KEYS_IN_MESSAGE]}')
        tensors = selected
    return tensors


def _some(keys: Sequence[str]) -> str:
    shown = ', '.join(keys[:MAX_KEYS_IN_MESSAGE])
    more = len(keys) - MAX_KEYS_IN_MESSAGE
    return shown + (f' (+{more} more)' if more > 0 else '')


def describe_mismatch(module: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> Dict[str, List[str]]:
    """Compare a state dict with a module's parameters and buffers.

    Returns:
        dict with ``missing`` (in the module, not in the file), ``unexpected``
        (in the file, not in the module) and ``shape`` (``'key: file (a, b)
        vs model (c, d)'``) lists.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shape = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
             for k, v in state_dict.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    return dict(missing=missing, unexpected=unexpected, shape=shape)


def load_state_dict_checked(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                            strict: bool = True, source: str = 'checkpoint',
                            ignore_missing: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Load ``state_dict`` into ``module``, naming every key that does not fit.

    Args:
        module: the module to fill.
        state_dict: tensors keyed like ``module.state_dict()``.
        strict: raise :class:`CheckpointError` on any missing/unexpected key
            (shape mismatches always raise).
        source: how to name the file in messages (usually its path).
        ignore_missing: key prefixes that may legitimately be absent.

    Returns:
        the mismatch report of :func:`describe_mismatch` (after ignoring).
    """
    report = check_state_dict_fits(module, state_dict, strict, source, ignore_missing)
    fitting = {k: v for k, v in state_dict.items() if k not in report['unexpected']}
    module.load_state_dict(fitting, strict=False)
    return report


def check_state_dict_fits(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                          strict: bool = True, source: str = 'checkpoint',
                          ignore_missing: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Raise :class:`CheckpointError` if ``state_dict`` does not fit ``module``.

    Arguments as for :func:`load_state_dict_checked`, which loads after this check.
    """
    report = describe_mismatch(module, state_dict)
    report['missing'] = [k for k in report['missing']
                         if not any(k.startswith(p) for p in ignore_missing)]
    problems = []
    if report['shape']:
        problems.append(f'shape mismatch: {_some(report["shape"])}')
    if strict and report['missing']:
        problems.append(f'missing keys: {_some(report["missing"])}')
    if strict and report['unexpected']:
        problems.append(f'unexpected keys: {_some(report["unexpected"])}')
    if problems:
        raise CheckpointError(f'{source} does not match {type(module).__name__} '
                              f'(is it for another architecture?): ' + '; '.join(problems))
    return report


def _mmengine_local_loader(filename: str, map_location: Any) -> Any:
    return load_checkpoint_file(filename, map_location=map_location)
