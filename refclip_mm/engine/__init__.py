"""Training-loop parts for mmengine's Runner that mmengine itself lacks on the CPU."""
from .optim_constructor import FrozenSummaryOptimWrapperConstructor
from .optim_wrappers import AutocastOptimWrapper

__all__ = ['AutocastOptimWrapper', 'FrozenSummaryOptimWrapperConstructor']
