"""Open-vocabulary detection data: base/novel splits, OV-COCO / OV-LVIS datasets, class check.

* OV-COCO (the standard split of Bansal et al. / OVR-CNN): 48 base and 17
  novel classes of COCO 2017; the other 15 COCO classes are not used.
* OV-LVIS (LVIS v1): train on frequent + common classes; rare = novel; a trimmed LVIS file
  (some of the 1,203 categories) gives its categories as the classes.
* a user's own COCO-format data: ``OVCocoDataset`` with ``metainfo=dict(classes=...,
  novel_classes=...)`` (names, or class-name files) and ``check_images=True``
  (docs/custom_datasets.md).

Labels are indices into ``metainfo['classes']``; ``metainfo['base_classes']``
and ``metainfo['novel_classes']`` carry the split (what mmdet's
``OVCocoMetric`` reads). :class:`OVClassCheckHook` makes sure the OV box
head scores the same classes in the same order.
"""
import difflib
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmdet.datasets import CocoDataset, LVISV1Dataset
from mmdet.datasets.api_wrappers import COCO
from mmengine.fileio import load
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper

from ..clip.class_names import read_class_names
from ..registry import DATASETS, HOOKS
from .unlabeled import missing_images

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

# mmdet's LVIS v1 class names, in LVIS category-id order.
LVIS_V1_CLASSES: Tuple[str, ...] = tuple(LVISV1Dataset.METAINFO['classes'])
LVIS_URL_PREFIX = 'http://images.cocodataset.org/'
LVIS_FREQUENCIES = ('r', 'c', 'f')

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


def close_names(names: Sequence[str], known: Sequence[str]) -> str:
    """``" (did you mean 'x'?)"`` for the first of ``names`` with a close match in ``known``."""
    for name in names:
        match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        if match:
            return f' (did you mean {match[0]!r} for {name!r}?)'
    return ''


def _first(items: Sequence, count: int = 5) -> str:
    return f'{list(items)[:count]}{" ..." if len(items) > count else ""}'


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
        raise ValueError(f'base/novel lists name classes the dataset does not have: {unknown[:10]}'
                         f'{close_names(unknown, classes)}')
    uncovered = [c for c in classes if c not in set(base) | set(novel)]
    if uncovered:
        raise ValueError(f'{len(uncovered)} dataset classes are neither base nor novel: '
                         f'{uncovered[:10]}')
    return [c for c in classes if c in set(base)], [c for c in classes if c in set(novel)]


# What an image's path key is used for, said when images lack it.
IMAGE_KEY_USES = dict(
    file_name='',
    coco_url=' (LVIS names an image by its COCO url: the part after '
             f'{LVIS_URL_PREFIX!r}, e.g. val2017/000000397133.jpg, is its path under '
             'data_prefix.img)')


def check_coco_dict(data, path: str, image_key: str = 'file_name') -> None:
    """Raise ``ValueError`` naming ``path`` and what it lacks unless ``data`` is a COCO
    instances file: ``images`` (``id``, ``image_key``: ``file_name``, or ``coco_url`` for
    LVIS), ``annotations`` (``image_id``, ``category_id`` of listed images and categories,
    ``bbox`` of 4 numbers) and ``categories`` (``id``, ``name``; ids and names unique)."""
    if not isinstance(data, dict):
        raise ValueError(f'{path}: a COCO annotation file is a JSON object with "images", '
                         f'"annotations" and "categories"; this one holds a {type(data).__name__}')
    lacking = [key for key in ('images', 'annotations', 'categories')
               if not isinstance(data.get(key), list)]
    if lacking:
        raise ValueError(f'{path}: no {" / ".join(repr(k) for k in lacking)} list (a COCO '
                         'annotation file needs "images", "annotations" and "categories"; its keys '
                         f'are {sorted(data)})')
    categories, images = data['categories'], data['images']
    if not categories:
        raise ValueError(f'{path}: its "categories" list is empty; list every class as '
                         '{"id": <int>, "name": <str>}')
    bad = [c for c in categories if not isinstance(c, dict) or not isinstance(c.get('id'), int)
           or not isinstance(c.get('name'), str) or not c['name'].strip()]
    if bad:
        raise ValueError(f'{path}: {len(bad)} categories lack an integer "id" or a "name", e.g. '
                         f'{_first(bad, 3)}')
    for key in ('id', 'name'):
        counts = Counter(c[key] for c in categories)
        twice = sorted((v for v, n in counts.items() if n > 1), key=str)
        if twice:
            raise ValueError(f'{path}: category {key}s must be unique; repeated: {_first(twice)}')
    if not images:
        raise ValueError(f'{path}: its "images" list is empty')
    bad = [i for i in images if not isinstance(i, dict) or 'id' not in i
           or not isinstance(i.get(image_key), str)]
    if bad:
        raise ValueError(f'{path}: {len(bad)} of {len(images)} images lack an "id" or a '
                         f'"{image_key}"{IMAGE_KEY_USES.get(image_key, "")}, e.g. '
                         f'{_first(bad, 3)}')
    image_ids, category_ids = {i['id'] for i in images}, {c['id'] for c in categories}
    annotations = data['annotations']
    problems = (
        ('name an image_id that is not in "images"',
         [a for a in annotations if a.get('image_id') not in image_ids]),
        ('name a category_id that is not in "categories" (ids '
         f'{_first(sorted(category_ids))})',
         [a for a in annotations if a.get('category_id') not in category_ids]),
        ('lack a "bbox" [x, y, width, height]',
         [a for a in annotations if not isinstance(a.get('bbox'), (list, tuple))
          or len(a['bbox']) != 4]),
    )
    for what, offenders in problems:
        if offenders:
            raise ValueError(f'{path}: {len(offenders)} of {len(annotations)} annotations {what}, '
                             f'e.g. {_first(offenders, 2)}')


class CheckedCOCO(COCO):
    """mmdet's COCO api that first checks the file (:func:`check_coco_dict`), so a file lacking
    something stops with its name and what it lacks instead of a ``KeyError`` deep in loading."""

    def __init__(self, annotation_file=None):
        super().__init__(annotation_file)
        if annotation_file is not None:
            check_coco_dict(self.dataset, annotation_file)


def _lacking(items: Sequence[dict], key: str, kind=list) -> List[dict]:
    return [item for item in items if not isinstance(item.get(key), kind)]


def check_lvis_dict(data, path: str, need_frequency: bool = True, for_evaluation: bool = False,
                    with_masks: bool = False) -> None:
    """Raise ``ValueError`` naming ``path`` and what it lacks unless ``data`` is an LVIS v1
    file: a COCO-style file (:func:`check_coco_dict`) whose images have a ``coco_url`` (their
    path), whose categories have ``frequency`` r/c/f (``need_frequency``: the rare = novel
    split, LVISMetric's APr/APc/APf), whose images have ``neg_category_ids`` and
    ``not_exhaustive_category_ids`` and annotations an ``area`` (``for_evaluation``: read by
    LVISMetric) and whose annotations have a ``segmentation`` (``with_masks``)."""
    check_coco_dict(data, path, image_key='coco_url')
    categories, images, annotations = data['categories'], data['images'], data['annotations']
    if need_frequency:
        bad = [c['name'] for c in categories if c.get('frequency') not in LVIS_FREQUENCIES]
        if bad:
            raise ValueError(
                f'{path}: {len(bad)} of its {len(categories)} categories lack "frequency" r/c/f, '
                f'e.g. {_first(bad)}; it marks the rare classes (novel in OV-LVIS) and groups '
                "LVISMetric's APr/APc/APf (LVIS v1 files carry it)")
    if for_evaluation:
        for key in ('neg_category_ids', 'not_exhaustive_category_ids'):
            bad = _lacking(images, key)
            if bad:
                raise ValueError(
                    f'{path}: {len(bad)} of its {len(images)} images lack a "{key}" list (may be '
                    f"empty), e.g. {_first(bad, 1)}; LVISMetric's federated evaluation reads it")
        bad = _lacking(annotations, 'area', (int, float))
        if bad:
            raise ValueError(f'{path}: {len(bad)} of its {len(annotations)} annotations lack an '
                             f'"area", e.g. {_first(bad, 1)}; LVISMetric\'s small / medium / '
                             'large ranges read it')
    if with_masks:
        bad = [a for a in annotations if not a.get('segmentation')]
        if bad:
            raise ValueError(f'{path}: {len(bad)} of its {len(annotations)} annotations lack a '
                             f'"segmentation", e.g. {_first(bad, 1)}; the pipeline loads masks '
                             '(LoadAnnotations with_mask=True) for the mask head')


def compare_with_lvis_v1(names: Sequence[str]) -> Tuple[List[str], List[str]]:
    """``(missing, unknown)``: the LVIS v1 class names that ``names`` lacks, and the names
    that are not LVIS v1 class names."""
    given, known = set(names), set(LVIS_V1_CLASSES)
    return ([n for n in LVIS_V1_CLASSES if n not in given], [n for n in names if n not in known])


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
                         f'{extra[:10]}; make model.roi_head.bbox_head.class_names (when None: '
                         "the class-embedding file's names, in its order) and the dataset's "
                         'metainfo classes the same')
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
      counted in ``num_skipped_images`` (logged);
    * ``metainfo`` ``classes`` / ``base_classes`` / ``novel_classes`` may each be a
      class-name file (a JSON list or one name per line, read by
      :func:`~refclip_mm.clip.class_names.read_class_names`);
    * ``check_images=True`` makes an image the annotation file lists but the image folder
      lacks an error at build time, naming the file and the folder.
    """

    SPLIT_KEYS = ('classes', 'base_classes', 'novel_classes')

    def __init__(self, *args, drop_novel: bool = False, check_images: bool = False, **kwargs):
        self.drop_novel = drop_novel
        self.check_images = check_images
        self.num_skipped_images = 0
        self._file_categories: Optional[List[dict]] = None
        super().__init__(*args, **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo=None) -> dict:
        """mmengine's, with the class lists given as class-name files read by the package's one
        reader (mmengine's own would keep comments and blank lines as class names), and, for
        classes of one's own, without the default classes' split (mmengine would keep it:
        ``metainfo=dict(classes=..., novel_classes=...)`` would get OV-COCO's 48 base classes)
        or a default palette too short for them."""
        if metainfo is None:
            return super()._load_metainfo(metainfo)
        metainfo = dict(metainfo)
        for key in cls.SPLIT_KEYS:
            if isinstance(metainfo.get(key), str):
                metainfo[key] = tuple(read_class_list(metainfo[key], f'metainfo {key}'))
        loaded = super()._load_metainfo(metainfo)
        if 'classes' in metainfo and tuple(metainfo['classes']) != tuple(
                cls.METAINFO.get('classes', ())):
            for key in ('base_classes', 'novel_classes'):
                if key not in metainfo:
                    loaded.pop(key, None)
            palette = loaded.get('palette')
            if 'palette' not in metainfo and palette is not None and len(palette) < len(
                    loaded['classes']):
                loaded.pop('palette')  # mmdet's visualizer then draws its own colours
        return loaded

    def _api(self):
        return getattr(self, 'coco', None) or getattr(self, 'lvis', None)

    def parse_data_info(self, raw_data_info: dict):
        if self._file_categories is None:  # the annotation api exists only during loading
            api = self._api()
            self._check_annotation_file(api.dataset)
            self._file_categories = [api.cats[i] for i in self.cat_ids]
            self._file_category_names = [c['name'] for c in api.cats.values()]
        return super().parse_data_info(raw_data_info)

    def _split_from_file(self, categories: List[dict]) -> Dict[str, List[str]]:
        """``base``/``novel`` from the categories' ``split`` field (empty if absent)."""
        splits = {c['name']: c.get('split') for c in categories}
        if any(v is None for v in splits.values()):
            return {}
        return dict(base=[n for n, s in splits.items() if s == 'base'],
                    novel=[n for n, s in splits.items() if s == 'novel'])

    def _check_annotation_file(self, data: dict) -> None:
        """Check the annotation file's contents when it is read (nothing beyond the api's own
        check here)."""

    def _classes_from_file(self, names: List[str]) -> None:
        """Make the file's categories the classes where the dataset allows it (not here)."""

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if self._file_categories is None and not data_list:
            raise ValueError(f'{self.ann_file}: its "images" list is empty')
        names, from_file = None, {}
        if self._file_categories is not None:
            names = [c['name'] for c in self._file_categories]
            self._classes_from_file(names)
            from_file = self._split_from_file(self._file_categories)
            if 'base_classes' not in self._metainfo and 'novel_classes' not in self._metainfo:
                self._metainfo.update(self._default_split(from_file))
        classes = list(self._metainfo['classes'])
        names = classes if names is None else names
        try:
            base, novel = split_classes(classes, self._metainfo.get('base_classes'),
                                        self._metainfo.get('novel_classes'))
        except ValueError as err:
            raise ValueError(f'{type(self).__name__} on {self.ann_file}: the split in metainfo '
                             f'(classes, base_classes, novel_classes): {err}') from err
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
        if self.check_images:
            self._check_images(data_list)
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
            hint = ''
            if tuple(classes) != OV_COCO_CLASSES:
                in_file = getattr(self, '_file_category_names', names)
                extra = [n for n in in_file if n not in set(classes)]
                hint = (f' Its categories are {_first(in_file, 8)}'
                        f'{close_names(missing, extra)}: metainfo classes (and base_classes / '
                        'novel_classes) must be names of its categories, spelled as in the file.')
            raise ValueError(
                f'{self.ann_file}: its categories lack {len(missing)} of the {len(classes)} '
                f'metainfo classes, among them {what}.{hint} A training file may omit novel '
                'classes (drop_novel=True); an evaluation file lists every class in its '
                'categories (a class may have no annotations). For OV-COCO, write both files '
                'from the COCO 2017 instances files with tools/prepare_ov_coco.py --train '
                'instances_train2017.json --val instances_val2017.json')

    def _check_images(self, data_list: List[dict]) -> None:
        """Every image the annotation file lists must be a file under the image folder."""
        missing = missing_images(data_list)
        if missing:
            folder = self.data_prefix.get('img', '')
            raise FileNotFoundError(
                f'{self.ann_file}: {len(missing)} of the {len(data_list)} images it lists are not '
                f'in the image folder {folder!r} (data_prefix.img under data_root), e.g. '
                f'{_first([osp.relpath(m, folder) if folder else m for m in missing], 3)}')

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

    Pass ``metainfo=dict(classes=..., novel_classes=...)`` for other data (names or class-name
    files; docs/custom_datasets.md); without base/novel lists the categories' ``split`` field
    is used. The annotation file is checked when it is read (:func:`check_coco_dict`).
    """
    COCOAPI = CheckedCOCO
    METAINFO = dict(CocoDataset.METAINFO, classes=OV_COCO_CLASSES,
                    base_classes=OV_COCO_BASE_CLASSES, novel_classes=OV_COCO_NOVEL_CLASSES,
                    palette=[p for c, p in zip(CocoDataset.METAINFO['classes'],
                                               CocoDataset.METAINFO['palette'])
                             if c in set(OV_COCO_CLASSES)])


@DATASETS.register_module()
class OVLVISV1Dataset(OVSplitMixin, LVISV1Dataset):
    """LVIS v1 OV detection data: novel = rare classes (``frequency == 'r'``) unless
    ``metainfo`` gives the split.

    The file is checked when it is read (:func:`check_lvis_dict`): images need ``coco_url``,
    categories ``frequency`` (unless metainfo gives the split and it is training data),
    evaluation files the image fields and areas LVISMetric reads, and a pipeline that loads
    masks the annotations' ``segmentation``.

    Without ``metainfo`` classes, the classes are the file's categories, in its order, as long
    as they are LVIS v1 names listed in id order: the full release (all 1,203) or a trimmed
    file holding some of them. mmdet's LVIS dataset and LVISMetric label by the file's
    categories anyway; the box head must then score the same classes (class embeddings
    built with ``tools/build_text_embeddings.py --ann`` from a file with these categories,
    novel list from ``tools/prepare_ov_lvis.py``), which :class:`OVClassCheckHook` checks.
    """

    def load_data_list(self) -> List[dict]:
        try:
            return super().load_data_list()
        except (KeyError, TypeError, AssertionError):
            # mmdet's loader fails with a bare KeyError (e.g. 'coco_url') on a file lacking
            # something: say which file and what it lacks instead, if the check finds it
            api = getattr(self, 'lvis', None)
            if api is not None:
                del self.lvis
                data = api.dataset
            else:
                try:
                    data = load(self.ann_file, file_format='json',
                                backend_args=self.backend_args)
                except Exception:  # unreadable: the original error says more
                    data = None
            if data is not None:
                self._check_annotation_file(data)
            raise

    def _loads_masks(self) -> bool:
        return any(getattr(t, 'with_mask', False) for t in getattr(self.pipeline, 'transforms', ()))

    def _check_annotation_file(self, data: dict) -> None:
        split_given = 'base_classes' in self._metainfo or 'novel_classes' in self._metainfo
        check_lvis_dict(data, self.ann_file, need_frequency=self.test_mode or not split_given,
                        for_evaluation=self.test_mode, with_masks=self._loads_masks())

    def _classes_from_file(self, names: List[str]) -> None:
        if tuple(self._metainfo['classes']) != LVIS_V1_CLASSES or tuple(names) == LVIS_V1_CLASSES:
            return  # classes of one's own (checked against the file later), or the full release
        missing, unknown = compare_with_lvis_v1(names)
        if unknown:
            raise ValueError(
                f'{self.ann_file}: {len(unknown)} of its {len(names)} categories are not LVIS v1 '
                f'class names (mmdet\'s {len(LVIS_V1_CLASSES):,}), e.g. {_first(unknown)}'
                f'{close_names(unknown, LVIS_V1_CLASSES)}. For categories of your own give '
                'metainfo=dict(classes=...) (docs/custom_datasets.md)')
        ids = [c['id'] for c in self._file_categories]
        if ids != sorted(ids):
            raise ValueError(
                f'{self.ann_file}: its categories are not listed in id order; labels follow the '
                'list, the class embeddings (tools/build_text_embeddings.py --ann) the ids: sort '
                'its "categories" by id')
        self._metainfo['classes'] = tuple(names)
        if missing:
            MMLogger.get_current_instance().info(
                f'{type(self).__name__}: {self.ann_file} holds {len(names)} of the '
                f'{len(LVIS_V1_CLASSES):,} LVIS v1 categories (lacking e.g. {_first(missing, 3)}): '
                'its categories are the classes; build the class embeddings from a file with '
                'the same categories (tools/build_text_embeddings.py --ann)')

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
