"""Datasets and transforms."""
from .synthetic_datasets import SyntheticSceneDetDataset, SyntheticSceneSegDataset
from .transforms import LoadImageChecked, PackImageInputs, ResizeLongestSidePad
from .unlabeled import UnlabeledImageDataset

__all__ = ['SyntheticSceneDetDataset', 'SyntheticSceneSegDataset', 'LoadImageChecked',
           'PackImageInputs', 'ResizeLongestSidePad', 'UnlabeledImageDataset']
