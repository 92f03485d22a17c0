"""Class-name lists: builtin datasets, annotation files and class-name files.

Builtin lists are read from the dataset classes of mmdet / mmseg (their
``METAINFO['classes']``), so they are exactly the names those datasets
evaluate with. Background classes (:data:`BACKGROUND_NAMES`, VOC's
``background``) are left out: the embedding file has its own background entry.
:func:`read_class_names` reads every class-list file of the package (the
names to embed, the 16-bit segmentation datasets' label order, the base /
novel splits of detection).
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
# class names that mean "no class": served by a class-embedding file's background entry
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


def read_class_names(path: str, label_order: bool = False) -> List[str]:
    """Class names listed in a file, in file order: the one reader of class-list files.

    The file is either a JSON list of strings, or text with one name per line (surrounding
    whitespace stripped, lines starting with ``#`` are comments, blank lines skipped). With
    ``label_order`` the position of a name is its label id, so a blank line between names
    is an error: the ids after it would be off by one.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'class-name file not found: {path!r}')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if text.lstrip().startswith(('[', '{')):
        try:
            names = json.loads(text)
        except ValueError as err:
            raise ValueError(f'{path!r} is not valid JSON ({err}); a class-name file is a JSON '
                             'list of names or text with one name per line') from err
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f'{path!r} must hold a JSON list of class names (strings)')
    else:
        lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)
                 if not line.strip().startswith('#')]
        while lines and not lines[-1][1]:
            lines.pop()
        blank = [number for number, name in lines if not name]
        if label_order and blank:
            raise ValueError(f'{path!r}: blank lines {blank[:5]} between the class names (one '
                             'name per line, in label order: a blank line shifts the label ids)')
        names = [name for _, name in lines if name]
    if not names:
        raise ValueError(f'{path!r} lists no class names')
    return names
