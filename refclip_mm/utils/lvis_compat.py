"""Make lvis 0.5.3 (the PyPI release mmdet's LVISMetric imports) run on numpy >= 1.24.

lvis 0.5.3 still calls ``np.float``, removed in numpy 1.24. Instead of adding
the alias to numpy for everybody, only ``lvis.eval``'s own reference to numpy
is swapped for a view of numpy that also has the removed aliases, by
:mod:`refclip_mm.patches` (patch ``lvis_numpy``), which can also undo it.
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


def numpy_lacks_removed_aliases() -> bool:
    """True on numpy >= 1.24 (no ``np.float``), where lvis 0.5.3 needs the patch."""
    return not hasattr(np, 'float')
