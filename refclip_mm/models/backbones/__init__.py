"""Backbones for mmdet and mmseg."""
from .clip_vit import CLIPViT, SimpleFeaturePyramid

__all__ = ['CLIPViT', 'SimpleFeaturePyramid']
