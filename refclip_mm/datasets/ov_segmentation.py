"""Open-vocabulary segmentation data: ADE20K-847, Pascal Context-459 and a checked label loader.

ADE20K-150, Pascal Context-59, Pascal VOC-20/21 and COCO-Stuff-171 use mmseg's own
dataset classes (VOC-20 = ``PascalVOCDataset`` with the background class removed
through ``metainfo``). The two large vocabularies have more than 255 classes, so
their label maps are 16-bit PNGs with ``65535`` as the ignore index (not a class
id); they are written by ``tools/prepare_ade20k_847.py`` and
``tools/prepare_pascal_context_459.py``, which also write the class names
(``classes_847.txt`` / ``classes_459.txt``, one per line, in label order).

A user's own data (docs/custom_datasets.md) is a :class:`CustomSegDataset`: an image
folder, a folder of label maps and the class names (in the config, or a class-name file),
checked when the dataset is built.
"""
import os.path as osp
from typing import List, Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmseg.datasets import BaseSegDataset, PascalVOCDataset

from ..clip.class_names import read_class_names
from ..registry import DATASETS, TRANSFORMS

IGNORE_INDEX_16BIT = 65535
VOC20_CLASSES = tuple(c for c in PascalVOCDataset.METAINFO['classes'] if c != 'background')


def classes_from_file(path: str, data_root: str, owner: str, hint: str) -> tuple:
    """The class names of a segmentation dataset's class-name file (``path`` relative to
    ``data_root`` unless absolute), in label order."""
    if not osp.isabs(path) and data_root:
        path = osp.join(data_root, path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{owner}: class-name file {path!r} not found; {hint} (or pass '
                                'metainfo=dict(classes=[...]))')
    return tuple(read_class_names(path, label_order=True))


class _NamedClassesSegDataset(BaseSegDataset):
    """A 16-bit-label dataset whose class names come from a file next to the data."""
    METAINFO = dict()
    DEFAULT_CLASSES_FILE = ''
    PREPARE_TOOL = ''
    EXPECTED_CLASSES = 0

    def __init__(self, classes_file: Optional[str] = None, data_root: str = '',
                 metainfo: Optional[dict] = None, img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png', ignore_index: int = IGNORE_INDEX_16BIT, **kwargs):
        metainfo = dict(metainfo or {})
        if 'classes' not in metainfo:
            metainfo['classes'] = classes_from_file(
                classes_file or self.DEFAULT_CLASSES_FILE, data_root, type(self).__name__,
                f'it is written by {self.PREPARE_TOOL}')
        super().__init__(data_root=data_root, metainfo=metainfo, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, reduce_zero_label=False,
                         ignore_index=ignore_index, **kwargs)


@DATASETS.register_module()
class ADE20K847Dataset(_NamedClassesSegDataset):
    """ADE20K-847 (full ADE20K vocabulary), as written by ``tools/prepare_ade20k_847.py``.

    Layout under ``data_root`` (default ``data/ADE20K_2021_17_01``)::

        images_847/validation/*.jpg
        annotations_847/validation/*.png    16-bit, 0..846, 65535 = unlabelled
        classes_847.txt
    """
    DEFAULT_CLASSES_FILE = 'classes_847.txt'
    PREPARE_TOOL = 'tools/prepare_ade20k_847.py'
    EXPECTED_CLASSES = 847


@DATASETS.register_module()
class PascalContext459Dataset(_NamedClassesSegDataset):
    """Pascal Context-459 (full vocabulary), as written by ``tools/prepare_pascal_context_459.py``.

    Layout under ``data_root`` (default ``data/VOCdevkit/VOC2010``)::

        JPEGImages/*.jpg
        annotations_459/val/*.png           16-bit, 0..458, 65535 = unlabelled
        classes_459.txt
    """
    DEFAULT_CLASSES_FILE = 'classes_459.txt'
    PREPARE_TOOL = 'tools/prepare_pascal_context_459.py'
    EXPECTED_CLASSES = 459


@DATASETS.register_module()
class CustomSegDataset(BaseSegDataset):
    """A user's own semantic segmentation data: images, label maps and class names.

    Layout under ``data_root`` (the folders are ``data_prefix``'s)::

        <img_path>/**/<name><img_suffix>             the images (sub-folders too)
        <seg_map_path>/**/<name><seg_map_suffix>     one label map per image, same relative name:
                                                     8- or 16-bit, pixel value = label id
        <classes_file>                               optional: the class names, one per line

    The classes are ``metainfo=dict(classes=(...))`` or a class-name file ``classes_file``
    (relative to ``data_root``; one name per line in label order, or a JSON list). Label ``k``
    is the ``k``-th class; ``ignore_index`` (default 255) marks unlabelled pixels;
    ``reduce_zero_label=True`` reads 0 as unlabelled and ``k`` as class ``k - 1``.

    When the dataset is built, a missing folder, a folder without images, or an image without
    its label map is an error naming the folder and the files. Each sample records the class
    count (``num_classes``), so ``LoadCheckedSegMap`` refuses a label outside the classes
    whatever its own ``num_classes`` (a pipeline inherited from another dataset's config).
    """
    METAINFO = dict()

    def __init__(self, classes_file: Optional[str] = None, data_root: str = '',
                 metainfo: Optional[dict] = None, img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png', ignore_index: int = 255,
                 reduce_zero_label: bool = False, **kwargs):
        metainfo = dict(metainfo or {})
        if isinstance(metainfo.get('classes'), str):  # a class-name file given as metainfo
            classes_file = metainfo.pop('classes')
        if 'classes' not in metainfo:
            if not classes_file:
                raise ValueError('CustomSegDataset needs the class names in label order: '
                                 "metainfo=dict(classes=('name of label 0', ...)) or "
                                 'classes_file= (one name per line)')
            metainfo['classes'] = classes_from_file(classes_file, data_root,
                                                    type(self).__name__, 'write one name per line')
        super().__init__(data_root=data_root, metainfo=metainfo, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label,
                         ignore_index=ignore_index, **kwargs)

    def load_data_list(self) -> List[dict]:
        folders = dict(img_path=self.data_prefix.get('img_path'),
                       seg_map_path=self.data_prefix.get('seg_map_path'))
        for key, folder in folders.items():
            if not folder or not osp.isdir(folder):
                raise FileNotFoundError(f'{type(self).__name__}: the folder data_prefix.{key} '
                                        f'{folder!r} (under data_root {self.data_root!r}) does '
                                        'not exist')
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(f'{type(self).__name__}: no images ending in {self.img_suffix!r} '
                             f'under {folders["img_path"]!r} (data_prefix.img_path; img_suffix)')
        missing = [info for info in data_list if not osp.isfile(info['seg_map_path'])]
        if missing:
            examples = [f'{osp.relpath(i["img_path"], folders["img_path"])} -> '
                        f'{osp.relpath(i["seg_map_path"], folders["seg_map_path"])}'
                        for i in missing[:3]]
            raise FileNotFoundError(
                f'{type(self).__name__}: {len(missing)} of the {len(data_list)} images under '
                f'{folders["img_path"]!r} have no label map in {folders["seg_map_path"]!r} '
                f'(data_prefix.seg_map_path, seg_map_suffix {self.seg_map_suffix!r}), e.g. '
                f'{examples}')
        num_classes = len(self._metainfo['classes'])
        for info in data_list:
            info['num_classes'] = num_classes
        return data_list


@TRANSFORMS.register_module()
class LoadCheckedSegMap(BaseTransform):
    """Load an 8- or 16-bit label map and check its values (replaces mmseg's ``LoadAnnotations``,
    which casts every map to 8 bits).

    Applies the dataset's ``reduce_zero_label`` (0 -> ignore, k -> k-1) and
    ``label_map`` like mmseg, then raises ``ValueError`` naming the file and the
    values when a label is neither a class id (``0..num_classes-1``) nor
    ``ignore_index``. Adds ``gt_seg_map`` (``uint8`` or ``uint16``, H x W).

    Args:
        num_classes: number of classes of the dataset (``None``: no range check). A dataset
            that records its class count in each sample (``results['num_classes']``,
            :class:`CustomSegDataset`) is checked against that count instead.
        ignore_index: the label that marks unlabelled pixels (255 for 8-bit
            datasets, 65535 for ADE20K-847 / PC-459).
        backend_args: mmengine file backend arguments.
    """

    def __init__(self, num_classes: Optional[int] = None, ignore_index: int = 255,
                 backend_args: Optional[dict] = None):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['seg_map_path']
        seg = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args), flag='unchanged',
                               backend='cv2')
        if seg is None:
            raise ValueError(f'cannot decode the label map {path!r}')
        seg = np.squeeze(seg)
        if seg.ndim != 2 or seg.dtype not in (np.uint8, np.uint16):
            raise ValueError(f'{path!r}: a label map must be a single-channel 8- or 16-bit image, got '
                             f'shape {seg.shape} dtype {seg.dtype}')
        dtype = np.uint16 if self.ignore_index > 255 or seg.dtype == np.uint16 else np.uint8
        labels = seg.astype(np.int64)
        if results.get('reduce_zero_label', False):
            ignored = (labels == 0) | (labels == self.ignore_index)
            labels = labels - 1
            labels[ignored] = self.ignore_index
        label_map = results.get('label_map')
        if label_map:
            mapped = labels.copy()
            for old, new in label_map.items():
                mapped[labels == old] = new
            labels = mapped
        num_classes = results.get('num_classes', self.num_classes)
        if num_classes is not None:
            valid = labels != self.ignore_index
            bad = np.unique(labels[valid & ((labels < 0) | (labels >= num_classes))])
            if bad.size:
                raise ValueError(f'{path!r}: label values {bad[:10].tolist()} are outside the class range '
                                 f'0..{num_classes - 1} (ignore index {self.ignore_index}); check '
                                 'the dataset preparation, its classes and num_classes / ignore_index')
        if labels.max(initial=0) > np.iinfo(dtype).max:
            dtype = np.uint16
        results['gt_seg_map'] = labels.astype(dtype)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index})')
