"""refclip_mm: spatially aware CLIP ViTs as an OpenMMLab plugin.

Importing the package registers every module (see :mod:`refclip_mm.registry`),
routes mmengine's local checkpoint loading through the package's safe loader
(:mod:`refclip_mm.utils.checkpoint`) and makes mmengine's local file writes
(checkpoints, ``last_checkpoint``) atomic (:mod:`refclip_mm.utils.atomic`).
"""
from .utils.atomic import install_atomic_local_backend
from .utils.checkpoint import install_mmengine_loader
from .utils.lvis_compat import patch_lvis_for_numpy
from .version import __version__

install_mmengine_loader()
install_atomic_local_backend()
patch_lvis_for_numpy()

from . import registry  # noqa: E402,F401
from . import datasets, engine, evaluation, hooks, models  # noqa: E402,F401

__all__ = ['__version__']
