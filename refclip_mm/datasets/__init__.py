"""Datasets and transforms."""
from .synthetic_datasets import SyntheticSceneDetDataset, SyntheticSceneSegDataset

__all__ = ['SyntheticSceneDetDataset', 'SyntheticSceneSegDataset']
