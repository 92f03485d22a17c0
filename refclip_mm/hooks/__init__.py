"""mmengine hooks."""
from .dense_visualization_hook import DenseVisualizationHook
from .rank_consistency import RankConsistencyHook
from .scd_distill_hook import SCDDistillHook
from .strict_resume import StrictResumeHook

__all__ = ['DenseVisualizationHook', 'RankConsistencyHook', 'SCDDistillHook', 'StrictResumeHook']
