"""mmseg segmentors: open-vocabulary segmentation (a Cat-Seg-style head and a training-free
mode), and the dense maps of any tower for the unsupervised-segmentation metric.

Registered: ``CatSegCLIPViT`` (backbone), ``CatSegOVHead`` and ``DenseCosineOVHead``
(decode heads), ``OVEncoderDecoder``, ``TrainingFreeOVSegmentor`` and
``DenseFeatureSegmentor`` (segmentors), ``OVClassEmbeddingHook`` (in refclip_mm.hooks). See
docs/segmentation.md and docs/dense_quality.md.
"""
from .aggregation import ClassAggregation, GuidedAttention, SpatialAggregation, WindowBlock
from .catseg_backbone import CatSegCLIPViT
from .catseg_head import CatSegOVHead, CostAggregationLayer, GuidedUpBlock
from .class_embeddings import ClassEmbeddingBank
from .dense_cosine_head import DenseCosineOVHead
from .dense_feature_segmentor import DenseFeatureSegmentor, crop_padding
from .ov_encoder_decoder import OVEncoderDecoder, TrainingFreeOVSegmentor
from .ov_head_base import OVDecodeHeadBase

__all__ = [
    'ClassAggregation', 'GuidedAttention', 'SpatialAggregation', 'WindowBlock', 'CatSegCLIPViT',
    'CatSegOVHead', 'CostAggregationLayer', 'GuidedUpBlock', 'ClassEmbeddingBank',
    'DenseCosineOVHead', 'DenseFeatureSegmentor', 'crop_padding', 'OVEncoderDecoder',
    'TrainingFreeOVSegmentor', 'OVDecodeHeadBase'
]
