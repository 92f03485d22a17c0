"""F-ViT open-vocabulary detection parts for mmdet (docs/method.md section 6.1)."""
from .data_preprocessor import FixedSizeDetDataPreprocessor
from .fvit import FViT
from .ov_bbox_head import OVBBoxHead
from .ov_roi_head import OVRoIHead
from .score_fusion import clip_region_probs, fuse_scores

__all__ = ['FixedSizeDetDataPreprocessor', 'FViT', 'OVBBoxHead', 'OVRoIHead', 'clip_region_probs',
           'fuse_scores']
