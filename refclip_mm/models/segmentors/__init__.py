"""Open-vocabulary segmentation for mmseg: a Cat-Seg-style head and a training-free mode.

Registered: ``CatSegCLIPViT`` (backbone), ``CatSegOVHead`` and ``DenseCosineOVHead``
(decode heads), ``OVEncoderDecoder`` and ``TrainingFreeOVSegmentor`` (segmentors),
``OVClassEmbeddingHook`` (in refclip_mm.hooks). See docs/segmentation.md.
"""
from .aggregation import ClassAggregation, GuidedAttention, SpatialAggregation, WindowBlock
from .catseg_backbone import CatSegCLIPViT
from .catseg_head import CatSegOVHead, CostAggregationLayer, GuidedUpBlock
from .class_embeddings import ClassEmbeddingBank
from .dense_cosine_head import DenseCosineOVHead
from .ov_encoder_decoder import OVEncoderDecoder, TrainingFreeOVSegmentor
from .ov_head_base import OVDecodeHeadBase

__all__ = [
    'ClassAggregation', 'GuidedAttention', 'SpatialAggregation', 'WindowBlock', 'CatSegCLIPViT',
    'CatSegOVHead', 'CostAggregationLayer', 'GuidedUpBlock', 'ClassEmbeddingBank',
    'DenseCosineOVHead', 'OVEncoderDecoder', 'TrainingFreeOVSegmentor',
    'OVDecodeHeadBase'
]
