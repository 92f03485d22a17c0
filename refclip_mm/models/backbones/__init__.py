"""Backbones for mmdet and mmseg."""
