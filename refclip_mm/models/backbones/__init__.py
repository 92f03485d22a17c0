"""Backbones for mmdet and mmseg."""
from .clip_vit import CLIPViT, SimpleFeaturePyramid
from .refiner import Refiner
from .refiner_backbone import RefinerBackbone

__all__ = ['CLIPViT', 'SimpleFeaturePyramid', 'Refiner', 'RefinerBackbone']
