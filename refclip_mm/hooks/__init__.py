"""mmengine hooks."""
from .dense_visualization_hook import DenseVisualizationHook
from .ov_class_embedding_hook import OVClassEmbeddingHook
from .rank_consistency import RankConsistencyHook
from .scd_distill_hook import SCDDistillHook
from .strict_resume import StrictResumeHook

__all__ = ['DenseVisualizationHook', 'OVClassEmbeddingHook', 'RankConsistencyHook',
           'SCDDistillHook', 'StrictResumeHook']
