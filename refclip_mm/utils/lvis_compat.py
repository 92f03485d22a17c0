"""Make lvis 0.5.3 (the PyPI release mmdet's LVISMetric imports) run on numpy >= 1.24.

lvis 0.5.3 still calls ``np.float``, removed in numpy 1.24. Instead of adding
the alias to numpy for everybody, only ``lvis.eval``'s own reference to numpy
is swapped for a view of numpy that also has the removed aliases.
"""
import types

import numpy as np

_REMOVED_ALIASES = dict(float=float, int=int, bool=bool, object=object)


class _NumpyWithRemovedAliases(types.ModuleType):
    """numpy, plus the builtin aliases numpy 1.24 removed."""

    def __init__(self):
        super().__init__('numpy')
        self.__dict__.update(_REMOVED_ALIASES)

    def __getattr__(self, name):
        return getattr(np, name)


def patch_lvis_for_numpy() -> bool:
    """Patch ``lvis.eval`` if it is installed and numpy lacks ``np.float``.

    Returns:
        True if the patch was applied (or already in place).
    """
    if hasattr(np, 'float'):
        return False
    try:
        import lvis.eval as lvis_eval
    except ImportError:
        return False
    if not isinstance(lvis_eval.np, _NumpyWithRemovedAliases):
        lvis_eval.np = _NumpyWithRemovedAliases()
    return True
