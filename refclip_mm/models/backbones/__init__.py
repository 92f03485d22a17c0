"""Backbones for mmdet and mmseg."""
from .clip_vit import CLIPViT, SimpleFeaturePyramid
from .refiner import Refiner
from .refiner_backbone import RefinerBackbone, export_refiner, read_refiner_file

__all__ = ['CLIPViT', 'SimpleFeaturePyramid', 'Refiner', 'RefinerBackbone', 'export_refiner',
           'read_refiner_file']
