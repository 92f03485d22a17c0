"""Write files so that a crash never leaves a half-written one behind."""
import json
import os
import tempfile
from typing import Any, Callable

import torch


def atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, fsync it, rename it to ``path``.

    A process killed at any moment leaves either the old ``path`` or the new
    one, never a truncated file (at worst a hidden ``.*.part`` file).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.part',
                               dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_json(path: str, data: Any, **json_options: Any) -> None:
    """``json.dump`` through :func:`atomic_write`; ``json_options`` (``indent``,
    ``separators``, ...) go to :func:`json.dumps`."""
    text = json.dumps(data, **json_options).encode()
    atomic_write(path, lambda f: f.write(text))
