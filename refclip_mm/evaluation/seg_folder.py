"""mmseg-format image / label folders for the dense-quality tools.

A :class:`SegFolder` pairs ``img_dir/<stem><img_suffix>`` with
``ann_dir/<stem><ann_suffix>`` (label PNGs; palette PNGs are read as indices),
optionally restricted to the stems of a split file, exactly as mmseg's
datasets lay them out. :data:`PRESETS` hold the layouts of the datasets the
paper's protocol is run on (paths relative to ``--data-root``, as mmseg's
dataset preparation writes them).
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


@dataclass
class SegFolderConfig:
    """Layout of a label folder dataset (see the module docstring).

    Attributes:
        img_dir / ann_dir: folders relative to the data root.
        num_classes: ``C`` after ``reduce_zero_label`` / ``label_map``.
        img_suffix / ann_suffix: file endings.
        split_file: optional text file (relative to the data root) of stems.
        reduce_zero_label: label 0 becomes ignore, the others shift down by one.
        ignore_index: label value that is not evaluated.
        label_map: optional ``{old: new}`` mapping; unmapped values become ignore.
        note: what the preset expects of the files.
    """
    img_dir: str
    ann_dir: str
    num_classes: int
    img_suffix: str = '.jpg'
    ann_suffix: str = '.png'
    split_file: Optional[str] = None
    reduce_zero_label: bool = False
    ignore_index: int = 255
    label_map: Optional[Dict[int, int]] = None
    class_names: Optional[Sequence[str]] = None
    note: str = ''


def _synthetic_names():
    from ..datasets.synthetic import SEMANTIC_CLASSES
    return SEMANTIC_CLASSES


PRESETS: Dict[str, SegFolderConfig] = {
    'coco-stuff-27': SegFolderConfig(
        'images/val2017', 'annotations/val2017', 27, ann_suffix='_labelTrainIds.png',
        note="mmseg's COCO-Stuff-164k layout; needs --label-map: a JSON file mapping the 171 "
             'train ids to the 27 super-categories (0-26); unmapped ids are ignored'),
    'voc': SegFolderConfig(
        'JPEGImages', 'SegmentationClass', 21, split_file='ImageSets/Segmentation/val.txt',
        note='data root = VOCdevkit/VOC2012; 21 classes with background'),
    'ade': SegFolderConfig(
        'images/validation', 'annotations/validation', 150, reduce_zero_label=True,
        note='data root = ADEChallengeData2016; ADE20K-150'),
    'pascal-context': SegFolderConfig(
        'JPEGImages', 'SegmentationClassContext', 59,
        split_file='ImageSets/SegmentationContext/val.txt', reduce_zero_label=True,
        note='data root = VOCdevkit/VOC2010 as prepared by mmseg; Pascal Context-59'),
    'synthetic': SegFolderConfig(
        'images/val', 'semantic/val', 24,
        note='refclip_mm.datasets.synthetic.write_dataset / tools/make_synthetic_data.py'),
}


def preset(name: str) -> SegFolderConfig:
    """A copy of the layout of a named dataset."""
    if name not in PRESETS:
        raise ValueError(f'unknown dataset preset {name!r}; choose one of {sorted(PRESETS)}')
    cfg = PRESETS[name]
    names = _synthetic_names() if name == 'synthetic' else cfg.class_names
    return SegFolderConfig(**dict(cfg.__dict__, class_names=names))


def read_label_map(path: str) -> Dict[int, int]:
    """``{old: new}`` from a JSON object (string or int keys) or a list (index -> new)."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, list):
        return {i: int(v) for i, v in enumerate(data)}
    if isinstance(data, dict):
        return {int(k): int(v) for k, v in data.items()}
    raise ValueError(f'{path} must hold a JSON object {{old: new}} or a list, not '
                     f'{type(data).__name__}')


@dataclass
class SegFolder:
    """Image / label pairs of one dataset (a ``Sequence`` of label maps via :meth:`labels`)."""
    root: str
    cfg: SegFolderConfig
    stems: List[str] = field(default_factory=list)

    @classmethod
    def scan(cls, root: str, cfg: SegFolderConfig, max_images: Optional[int] = None) -> 'SegFolder':
        """List the pairs; raises naming the folder / file that is missing."""
        img_dir, ann_dir = osp.join(root, cfg.img_dir), osp.join(root, cfg.ann_dir)
        for what, path in (('image', img_dir), ('label', ann_dir)):
            if not osp.isdir(path):
                raise FileNotFoundError(f'{what} folder {path} does not exist: check --data-root and '
                                        f'--{"img" if what == "image" else "ann"}-dir')
        if cfg.split_file:
            split = osp.join(root, cfg.split_file)
            if not osp.isfile(split):
                raise FileNotFoundError(f'split file {split} does not exist (--split-file)')
            with open(split) as f:
                stems = [line.strip() for line in f if line.strip()]
        else:
            stems = sorted(n[:-len(cfg.img_suffix)] for n in os.listdir(img_dir)
                           if n.endswith(cfg.img_suffix))
        if max_images is not None:
            stems = stems[:max_images]
        if not stems:
            raise FileNotFoundError(f'no *{cfg.img_suffix} images in {img_dir}')
        folder = cls(root, cfg, stems)
        missing = [p for p in (folder.ann_path(i) for i in range(len(stems))) if not osp.isfile(p)]
        if missing:
            raise FileNotFoundError(f'{len(missing)} label files are missing, e.g. {missing[0]}: '
                                    'check --ann-dir and --ann-suffix')
        return folder

    def __len__(self) -> int:
        return len(self.stems)

    def img_path(self, index: int) -> str:
        return osp.join(self.root, self.cfg.img_dir, self.stems[index] + self.cfg.img_suffix)

    def ann_path(self, index: int) -> str:
        return osp.join(self.root, self.cfg.ann_dir, self.stems[index] + self.cfg.ann_suffix)

    def load_labels(self, index: int) -> np.ndarray:
        """``H x W`` int16 labels after ``label_map`` / ``reduce_zero_label``."""
        from PIL import Image
        with Image.open(self.ann_path(index)) as img:
            raw = np.array(img)
        if raw.ndim != 2:
            raise ValueError(f'{self.ann_path(index)} is not a single-channel label map '
                             f'(shape {raw.shape})')
        raw = raw.astype(np.int64)
        ignore = self.cfg.ignore_index
        if self.cfg.label_map is not None:
            lut = np.full(max(int(raw.max()), max(self.cfg.label_map)) + 1, ignore, np.int64)
            for old, new in self.cfg.label_map.items():
                lut[old] = new
            raw = lut[raw]
        if self.cfg.reduce_zero_label:
            raw = np.where(raw == 0, ignore, np.where(raw == ignore, ignore, raw - 1))
        return raw.astype(np.int16)

    def labels(self) -> 'LazyLabels':
        """The label maps as a lazy sequence (each read when indexed)."""
        return LazyLabels(self)


class LazyLabels:
    """``Sequence`` of a :class:`SegFolder`'s label maps, read on access."""

    def __init__(self, folder: SegFolder):
        self.folder = folder

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self.folder):
            raise IndexError(index)
        return self.folder.load_labels(index)


def batches(count: int, batch_size: int) -> List[Tuple[int, int]]:
    """``(start, stop)`` index ranges covering ``range(count)``."""
    return [(s, min(s + batch_size, count)) for s in range(0, count, batch_size)]
