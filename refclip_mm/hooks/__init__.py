"""mmengine hooks."""
from .dense_visualization_hook import DenseVisualizationHook  # noqa: F401
from .strict_resume import StrictResumeHook

__all__ = ['StrictResumeHook']
