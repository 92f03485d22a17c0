"""Open-vocabulary detection data: base/novel splits, OV-COCO / OV-LVIS datasets, class check.

* OV-COCO (the standard split of Bansal et al. / OVR-CNN): 48 base and 17
  novel classes of COCO 2017; the other 15 COCO classes are not used.
* OV-LVIS (LVIS v1): train on frequent + common classes; rare = novel.

Labels are indices into ``metainfo['classes']``; ``metainfo['base_classes']``
and ``metainfo['novel_classes']`` carry the split (what mmdet's
``OVCocoMetric`` reads). :class:`OVClassCheckHook` makes sure the OV box
head scores the same classes in the same order.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmdet.datasets import CocoDataset, LVISV1Dataset
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper

from ..clip.class_names import read_class_names
from ..registry import DATASETS, HOOKS

OV_COCO_BASE_CLASSES: Tuple[str, ...] = (
    'person', 'bicycle', 'car', 'motorcycle', 'train', 'truck', 'boat', 'bench', 'bird', 'horse',
    'sheep', 'bear', 'zebra', 'giraffe', 'backpack', 'handbag', 'suitcase', 'frisbee', 'skis',
    'kite', 'surfboard', 'bottle', 'fork', 'spoon', 'bowl', 'banana', 'apple', 'sandwich',
    'orange', 'broccoli', 'carrot', 'pizza', 'donut', 'chair', 'bed', 'toilet', 'tv', 'laptop',
    'mouse', 'remote', 'microwave', 'oven', 'toaster', 'refrigerator', 'book', 'clock', 'vase',
    'toothbrush')
OV_COCO_NOVEL_CLASSES: Tuple[str, ...] = (
    'airplane', 'bus', 'cat', 'dog', 'cow', 'elephant', 'umbrella', 'tie', 'snowboard',
    'skateboard', 'cup', 'knife', 'cake', 'couch', 'keyboard', 'sink', 'scissors')
# The 65 OV-COCO classes in COCO's category order.
OV_COCO_CLASSES: Tuple[str, ...] = tuple(
    c for c in CocoDataset.METAINFO['classes']
    if c in set(OV_COCO_BASE_CLASSES) | set(OV_COCO_NOVEL_CLASSES))

NamesType = Union[None, str, Sequence[str]]


def read_class_list(names: NamesType, what: str) -> Optional[List[str]]:
    """A list of class names, or a class-name file (a JSON list or one name per line, read by
    :func:`~refclip_mm.clip.class_names.read_class_names`); ``None`` stays ``None``."""
    if names is None or not isinstance(names, str):
        return None if names is None else list(names)
    try:
        return read_class_names(names)
    except OSError as err:
        raise FileNotFoundError(f'{what}: {err}; give a list of names or a class-name file') from err
    except ValueError as err:
        raise ValueError(f'{what}: {err}') from err


def split_classes(classes: Sequence[str], base: NamesType = None,
                  novel: NamesType = None) -> Tuple[List[str], List[str]]:
    """Check a base/novel split of ``classes``; returns ``(base, novel)`` in class order.

    Either list may be omitted (it is then the rest of ``classes``; with both
    omitted every class is base). Raises when the lists overlap, name classes
    not in ``classes``, or do not cover ``classes`` together.
    """
    classes = list(classes)
    base, novel = read_class_list(base, 'base classes'), read_class_list(novel, 'novel classes')
    if base is None and novel is None:
        novel = []
    if base is None:
        base = [c for c in classes if c not in set(novel)]
    if novel is None:
        novel = [c for c in classes if c not in set(base)]
    overlap = sorted(set(base) & set(novel))
    if overlap:
        raise ValueError(f'base and novel class lists overlap in {len(overlap)} classes: '
                         f'{overlap[:10]}')
    unknown = [c for c in list(base) + list(novel) if c not in set(classes)]
    if unknown:
        raise ValueError(f'base/novel lists name classes the dataset does not have: {unknown[:10]}')
    uncovered = [c for c in classes if c not in set(base) | set(novel)]
    if uncovered:
        raise ValueError(f'{len(uncovered)} dataset classes are neither base nor novel: '
                         f'{uncovered[:10]}')
    return [c for c in classes if c in set(base)], [c for c in classes if c in set(novel)]


def check_head_matches_dataset(head_classes: Sequence[str], head_novel: Sequence[str],
                               metainfo: dict, where: str) -> None:
    """Raise when a head's class list or novel set differs from a dataset's metainfo."""
    classes, head_classes = list(metainfo.get('classes', ())), list(head_classes)
    if head_classes != classes:
        if sorted(head_classes) == sorted(classes):
            diff = next(i for i, (a, b) in enumerate(zip(head_classes, classes)) if a != b)
            raise ValueError(
                f'class order mismatch between the OV box head and the {where} dataset: label '
                f'{diff} is {head_classes[diff]!r} in the head but {classes[diff]!r} in the '
                "dataset; set model.roi_head.bbox_head.class_names to the dataset's classes in "
                'its order')
        missing = [c for c in classes if c not in set(head_classes)]
        extra = [c for c in head_classes if c not in set(classes)]
        raise ValueError(f'the OV box head has {len(head_classes)} classes, the {where} dataset '
                         f'{len(classes)}: missing in the head {missing[:10]}, not in the dataset '
                         f'{extra[:10]}; make class_names and the dataset classes the same')
    novel = metainfo.get('novel_classes')
    if novel is not None and sorted(novel) != sorted(head_novel):
        raise ValueError(f'novel classes differ between the OV box head ({len(head_novel)}) and '
                         f'the {where} dataset ({len(novel)}): only in the head '
                         f'{sorted(set(head_novel) - set(novel))[:10]}, only in the dataset '
                         f'{sorted(set(novel) - set(head_novel))[:10]}')


class OVSplitMixin:
    """Base/novel bookkeeping for mmdet's COCO-style datasets.

    * the split in ``metainfo`` is checked (:func:`split_classes`), and
      against the ``split`` field of the annotation file's categories if any;
    * the file's categories must be the metainfo classes, in the same order;
    * ``drop_novel=True`` removes novel-class instances (training);
    * images left without instances are skipped by ``filter_empty_gt`` and
      counted in ``num_skipped_images`` (logged).
    """

    def __init__(self, *args, drop_novel: bool = False, **kwargs):
        self.drop_novel = drop_novel
        self.num_skipped_images = 0
        self._file_categories: Optional[List[dict]] = None
        super().__init__(*args, **kwargs)

    def _api(self):
        return getattr(self, 'coco', None) or getattr(self, 'lvis', None)

    def parse_data_info(self, raw_data_info: dict):
        if self._file_categories is None:  # the annotation api exists only during loading
            api = self._api()
            self._file_categories = [api.cats[i] for i in self.cat_ids]
        return super().parse_data_info(raw_data_info)

    def _split_from_file(self, categories: List[dict]) -> Dict[str, List[str]]:
        """``base``/``novel`` from the categories' ``split`` field (empty if absent)."""
        splits = {c['name']: c.get('split') for c in categories}
        if any(v is None for v in splits.values()):
            return {}
        return dict(base=[n for n, s in splits.items() if s == 'base'],
                    novel=[n for n, s in splits.items() if s == 'novel'])

    def load_data_list(self) -> List[dict]:
        classes = list(self._metainfo['classes'])
        data_list = super().load_data_list()
        names, from_file = classes, {}
        if self._file_categories is not None:
            names = [c['name'] for c in self._file_categories]
            from_file = self._split_from_file(self._file_categories)
            if 'base_classes' not in self._metainfo and 'novel_classes' not in self._metainfo:
                self._metainfo.update(self._default_split(from_file))
        base, novel = split_classes(classes, self._metainfo.get('base_classes'),
                                    self._metainfo.get('novel_classes'))
        if names != classes:
            self._check_file_classes(names, classes, novel)
            to_metainfo = [classes.index(n) for n in names]  # file label -> metainfo label
            for info in data_list:
                for inst in info['instances']:
                    inst['bbox_label'] = to_metainfo[inst['bbox_label']]
        if self._file_categories is not None:
            in_file_novel = sorted(n for n in novel if n in set(names))
            if from_file and sorted(from_file['novel']) != in_file_novel:
                raise ValueError(f'{self.ann_file}: the categories\' split field marks novel '
                                 f'{sorted(from_file["novel"])[:10]} but metainfo says '
                                 f'{in_file_novel[:10]}')
        self._metainfo.update(base_classes=tuple(base), novel_classes=tuple(novel))
        if self.drop_novel:
            novel_labels = {classes.index(n) for n in novel}
            for info in data_list:
                info['instances'] = [i for i in info['instances']
                                     if i['bbox_label'] not in novel_labels]
        return data_list

    def _check_file_classes(self, names: List[str], classes: List[str], novel: List[str]) -> None:
        """A file may lack only novel classes, and only for training (``drop_novel=True``).

        That is the base-only training file of OV-COCO (48 categories); its labels are
        mapped to the metainfo classes. Anything else is refused with what to do.
        """
        missing = [c for c in classes if c not in set(names)]
        if not missing:
            if sorted(names) == sorted(classes):
                raise ValueError(f'{self.ann_file}: its categories are the metainfo classes in '
                                 f'another order (first file categories {names[:5]}, classes '
                                 f'{classes[:5]}): order differs')
            raise ValueError(f'{self.ann_file}: its categories include classes that metainfo '
                             f'does not have: {[n for n in names if n not in set(classes)][:10]}')
        missing_base = [c for c in missing if c not in set(novel)]
        if missing_base or not self.drop_novel:
            what = ('base classes ' + str(missing_base[:10]) if missing_base else
                    'novel classes ' + str(missing[:10]) + ', which evaluation needs')
            raise ValueError(
                f'{self.ann_file}: its categories lack {len(missing)} of the {len(classes)} '
                f'metainfo classes, among them {what}. A training file may omit novel classes '
                '(drop_novel=True); an evaluation file needs every class. For OV-COCO, write '
                'both files from the COCO 2017 instances files with tools/prepare_ov_coco.py '
                '--train instances_train2017.json --val instances_val2017.json')

    def _default_split(self, from_file: Dict[str, List[str]]) -> dict:
        if from_file:
            return dict(base_classes=tuple(from_file['base']),
                        novel_classes=tuple(from_file['novel']))
        return {}

    def filter_data(self) -> List[dict]:
        kept = super().filter_data()
        if not self.test_mode and self.filter_cfg and self.filter_cfg.get('filter_empty_gt'):
            kept = [info for info in kept if info['instances']]
            self.num_skipped_images = len(self.data_list) - len(kept)
            MMLogger.get_current_instance().info(
                f'{type(self).__name__}: skipped {self.num_skipped_images} of '
                f'{len(self.data_list)} images without annotations of the training classes '
                '(filter_cfg.filter_empty_gt=True)')
        return kept


@DATASETS.register_module()
class OVCocoDataset(OVSplitMixin, CocoDataset):
    """COCO-format OV detection data; defaults to the OV-COCO 65 classes (48 base / 17 novel).

    Pass ``metainfo=dict(classes=..., novel_classes=...)`` for other data;
    without base/novel lists the categories' ``split`` field is used.
    """
    METAINFO = dict(CocoDataset.METAINFO, classes=OV_COCO_CLASSES,
                    base_classes=OV_COCO_BASE_CLASSES, novel_classes=OV_COCO_NOVEL_CLASSES,
                    palette=[p for c, p in zip(CocoDataset.METAINFO['classes'],
                                               CocoDataset.METAINFO['palette'])
                             if c in set(OV_COCO_CLASSES)])


@DATASETS.register_module()
class OVLVISV1Dataset(OVSplitMixin, LVISV1Dataset):
    """LVIS v1 OV detection data: novel = rare classes (``frequency == 'r'``) unless
    ``metainfo`` gives the split."""

    def _default_split(self, from_file: Dict[str, List[str]]) -> dict:
        freq = {c['name']: c.get('frequency') for c in self._file_categories}
        if any(f not in ('r', 'c', 'f') for f in freq.values()):
            raise ValueError(f'{self.ann_file}: every category needs frequency r/c/f to derive '
                             'the rare (novel) classes, or give metainfo novel_classes')
        return dict(base_classes=tuple(n for n, f in freq.items() if f != 'r'),
                    novel_classes=tuple(n for n, f in freq.items() if f == 'r'))


@HOOKS.register_module()
class OVClassCheckHook(Hook):
    """Before training / validation / testing, compare the OV box head's classes with the data's.

    Labels index ``dataset.metainfo['classes']`` while the head scores its own
    ``class_names``: the lists must be identical and the novel sets equal.
    Models without an OV box head are left alone.
    """

    @staticmethod
    def _head(model):
        model = model.module if is_model_wrapper(model) else model
        head = getattr(getattr(model, 'roi_head', None), 'bbox_head', None)
        return head if hasattr(head, 'class_names') and hasattr(head, 'novel_classes') else None

    def _check(self, runner, loop_name: str) -> None:
        head = self._head(runner.model)
        loop = getattr(runner, f'_{loop_name}_loop', None)
        dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
        if head is not None and dataset is not None:
            check_head_matches_dataset(head.class_names, head.novel_classes, dataset.metainfo,
                                       loop_name)

    def before_train(self, runner) -> None:
        self._check(runner, 'train')

    def before_val(self, runner) -> None:
        self._check(runner, 'val')

    def before_test(self, runner) -> None:
        self._check(runner, 'test')
