"""Datasets and transforms."""
from .box_transforms import LoadRegionProposals, RandomGridBoxes
from .synthetic_datasets import SyntheticSceneDetDataset, SyntheticSceneSegDataset
from .transforms import LoadImageChecked, PackImageInputs, ResizeLongestSidePad
from .unlabeled import UnlabeledImageDataset

__all__ = ['LoadRegionProposals', 'RandomGridBoxes', 'SyntheticSceneDetDataset',
           'SyntheticSceneSegDataset', 'LoadImageChecked', 'PackImageInputs',
           'ResizeLongestSidePad', 'UnlabeledImageDataset']
