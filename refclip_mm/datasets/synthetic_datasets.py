"""mmseg / mmdet dataset classes for the synthetic scenes of :mod:`.synthetic`."""
from mmdet.datasets import CocoDataset
from mmseg.datasets import BaseSegDataset

from ..registry import DATASETS
from .synthetic import SEMANTIC_CLASSES, THING_CLASSES, semantic_palette


@DATASETS.register_module()
class SyntheticSceneSegDataset(BaseSegDataset):
    """Semantic segmentation on synthetic scenes (stuff + thing classes).

    Expects ``data_prefix=dict(img_path='images/<split>', seg_map_path='semantic/<split>')``
    under ``data_root`` as written by :func:`refclip_mm.datasets.synthetic.write_dataset`.
    """
    METAINFO = dict(classes=SEMANTIC_CLASSES, palette=semantic_palette())

    def __init__(self, img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=False, **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)


@DATASETS.register_module()
class SyntheticSceneDetDataset(CocoDataset):
    """COCO-format detection / instance segmentation on synthetic scenes (thing classes)."""
    METAINFO = dict(classes=THING_CLASSES, palette=semantic_palette()[-len(THING_CLASSES):])
