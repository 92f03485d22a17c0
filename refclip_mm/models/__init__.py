"""Models: CLIP backbones, Refiner, losses, training models, detector and segmentor parts."""
from . import backbones  # noqa: F401
