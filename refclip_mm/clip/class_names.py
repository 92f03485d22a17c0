"""Class-name lists for text embeddings: builtin datasets and annotation files.

Builtin lists are read from the dataset classes of mmdet / mmseg (their
``METAINFO['classes']``), so they are exactly the names those datasets
evaluate with. Background classes (VOC's ``background``) are left out: the
embedding file has its own background entry.
"""
import json
import os
from typing import Dict, List, Tuple

# dataset name -> (module, dataset class)
BUILTIN_DATASETS: Dict[str, Tuple[str, str]] = {
    'coco': ('mmdet.datasets', 'CocoDataset'),
    'lvis': ('mmdet.datasets', 'LVISV1Dataset'),
    'objects365': ('mmdet.datasets', 'Objects365V2Dataset'),
    'voc': ('mmdet.datasets', 'VOCDataset'),
    'ade20k': ('mmseg.datasets', 'ADE20KDataset'),
    'coco_stuff164k': ('mmseg.datasets', 'COCOStuffDataset'),
    'pascal_context59': ('mmseg.datasets', 'PascalContextDataset59'),
    'pascal_voc20': ('mmseg.datasets', 'PascalVOCDataset'),
    'cityscapes': ('mmseg.datasets', 'CityscapesDataset'),
}
BACKGROUND_NAMES = ('background', )


def get_class_names(dataset: str) -> List[str]:
    """Class names of a builtin dataset (one of :data:`BUILTIN_DATASETS`)."""
    import importlib
    key = dataset.lower().replace('-', '_')
    if key not in BUILTIN_DATASETS:
        raise ValueError(f'no builtin class list for {dataset!r}; choose one of '
                         f'{sorted(BUILTIN_DATASETS)} or pass a class-name file / annotation file')
    module, cls = BUILTIN_DATASETS[key]
    classes = getattr(importlib.import_module(module), cls).METAINFO['classes']
    return [c for c in classes if c not in BACKGROUND_NAMES]


def class_names_from_annotation(path: str) -> List[str]:
    """Category names of a COCO- or LVIS-format annotation json, ordered by category id."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path!r}')
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    categories = data.get('categories') if isinstance(data, dict) else None
    if not categories:
        raise ValueError(f'{path!r} has no "categories" list: is it a COCO/LVIS annotation file?')
    return [c['name'] for c in sorted(categories, key=lambda c: c['id'])]


def class_names_from_file(path: str) -> List[str]:
    """One class name per line (blank lines and ``#`` comments skipped)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'class-name file not found: {path!r}')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f]
    names = [n for n in names if n and not n.startswith('#')]
    if not names:
        raise ValueError(f'{path!r} lists no class names')
    return names
