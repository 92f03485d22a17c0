"""Models: CLIP backbones, Refiner, losses, training models, detector and segmentor parts."""
from . import detectors  # noqa: F401
from . import segmentors  # noqa: F401
from . import backbones, losses, trainers  # noqa: F401
from .frozen import FrozenModule

__all__ = ['FrozenModule']
