"""Datasets and transforms."""
from . import ov_segmentation  # noqa: F401
from .box_transforms import LoadRegionProposals, RandomGridBoxes
from .ov_detection import OVClassCheckHook, OVCocoDataset, OVLVISV1Dataset  # noqa: F401
from .scene_captions import SyntheticCaptionDataset
from .synthetic_datasets import SyntheticSceneDetDataset, SyntheticSceneSegDataset
from .transforms import LoadImageChecked, PackImageInputs, ResizeLongestSidePad
from .unlabeled import UnlabeledImageDataset

__all__ = ['LoadRegionProposals', 'RandomGridBoxes', 'SyntheticCaptionDataset', 'SyntheticSceneDetDataset',
           'SyntheticSceneSegDataset', 'LoadImageChecked', 'PackImageInputs',
           'ResizeLongestSidePad', 'UnlabeledImageDataset']
