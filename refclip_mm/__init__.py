"""refclip_mm: spatially aware CLIP ViTs as an OpenMMLab plugin.

Importing the package registers every module (see :mod:`refclip_mm.registry`)
and applies the process-wide fixes of :mod:`refclip_mm.patches`: mmengine's
local checkpoint loading goes through the package's safe loader, mmengine's
local file writes (checkpoints, ``last_checkpoint``) become atomic, and
``lvis.eval`` gets numpy's removed aliases. ``REFCLIP_MM_PATCHES=0`` (or a
list of patch names) turns them off at import;
``refclip_mm.patches.restore_originals()`` / ``apply()`` undo / redo them.
"""
from . import patches
from .version import __version__

patches.apply(patches.names_from_environment())

from . import registry  # noqa: E402,F401
from . import datasets, engine, evaluation, hooks, models  # noqa: E402,F401

__all__ = ['__version__']
