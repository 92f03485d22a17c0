"""Build OV-COCO annotation files (48 base / 17 novel classes) from COCO 2017 instances.

    python tools/prepare_ov_coco.py     # = --train data/coco/annotations/instances_train2017.json
                                        #   --val data/coco/annotations/instances_val2017.json
                                        #   --out-dir data/coco/annotations

Writes ``instances_train2017_ov_base.json`` (base-class annotations only) and
``instances_val2017_ov_all.json`` (base + novel annotations) into ``--out-dir``, by default
where the OV-COCO configs read them (``data_root`` ``data/coco/``, relative to the folder you
run from); both keep the 65 OV-COCO categories (the other 15 COCO classes are dropped) with a
``split`` field (base/novel), and all images. A default input that does not exist is skipped
(with a note); a given one must exist. Prints what it wrote.

``--train`` also takes a base-only file that has just the 48 base categories; its output then
has those 48, which ``OVCocoDataset`` accepts for training (``drop_novel=True``).

The val file must list all 65 OV-COCO classes in its ``categories``: evaluation scores every
class (novel AP50 over the 17 novel ones) and the dataset's labels index all 65, so a file
lacking some stops with the file and the missing names. A class may have no annotations (a
file of a few images keeps the whole categories list); such classes are named in a warning,
as their AP is undefined and left out of the means.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.apis.cli import given_or_default_file
from refclip_mm.datasets.ov_detection import (OV_COCO_BASE_CLASSES, OV_COCO_CLASSES,
                                              OV_COCO_NOVEL_CLASSES, check_coco_dict)
from refclip_mm.utils.atomic import atomic_write_json

ANNOTATIONS = osp.join('data', 'coco', 'annotations')  # the configs' data_root + annotations
DEFAULT_TRAIN = osp.join(ANNOTATIONS, 'instances_train2017.json')
DEFAULT_VAL = osp.join(ANNOTATIONS, 'instances_val2017.json')


def make_split(data: dict, keep: str, path: str = 'the annotation file') -> dict:
    """``keep='base'``: base annotations only; ``'all'``: base and novel."""
    by_name = {c['name']: c for c in data['categories']}
    missing = [n for n in OV_COCO_CLASSES if n not in by_name]
    novel = set(OV_COCO_NOVEL_CLASSES)
    if missing and (keep == 'all' or not set(missing) <= novel):
        lacking = [n for n in missing if keep == 'all' or n not in novel]
        if keep == 'all':
            lacking_novel = [n for n in lacking if n in novel]
            raise ValueError(
                f'{path}: its categories lack {len(lacking)} of the 65 OV-COCO classes '
                f'({len(lacking_novel)} of them novel): {lacking[:10]}'
                f'{" ..." if len(lacking) > 10 else ""}. The val file needs all 65: evaluation '
                "scores every class and the labels index them. List them in its categories "
                "(with COCO 2017's names and ids, as in instances_val2017.json); a class may "
                'have no annotations.')
        raise ValueError(
            f'{path}: its categories lack {len(lacking)} of the 48 OV-COCO base classes: '
            f'{lacking[:10]}{" ..." if len(lacking) > 10 else ""}. A training file needs the 48 '
            "base categories (the novel ones may be absent): give COCO 2017's "
            'instances_train2017.json.')
    categories = [dict(by_name[n], split='novel' if n in novel else 'base')
                  for n in OV_COCO_CLASSES if n in by_name]
    categories.sort(key=lambda c: c['id'])
    allowed = {c['id'] for c in categories if keep == 'all' or c['split'] == 'base'}
    annotations = [a for a in data['annotations'] if a['category_id'] in allowed]
    out = {k: v for k, v in data.items() if k not in ('annotations', 'categories')}
    out.update(categories=categories, annotations=annotations)
    return out


def classes_without_annotations(data: dict) -> list:
    """The classes of ``data``'s categories that no annotation has, in category order."""
    used = {a['category_id'] for a in data['annotations']}
    return [c['name'] for c in data['categories'] if c['id'] not in used]


def summary(data: dict) -> str:
    split = {c['id']: c['split'] for c in data['categories']}
    base = sum(split[a['category_id']] == 'base' for a in data['annotations'])
    with_ann = len({a['image_id'] for a in data['annotations']})
    return (f'{len(data["images"])} images ({with_ann} with annotations), '
            f'{len(data["categories"])} categories, {len(data["annotations"])} annotations '
            f'({base} base, {len(data["annotations"]) - base} novel)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train', help=f'instances_train2017.json (default: {DEFAULT_TRAIN} if '
                        'it exists)')
    parser.add_argument('--val', help=f'instances_val2017.json (default: {DEFAULT_VAL} if it '
                        'exists)')
    parser.add_argument('--out-dir', default=ANNOTATIONS,
                        help=f'default: {ANNOTATIONS}, where the OV-COCO configs read')
    args = parser.parse_args(argv)
    train = given_or_default_file(parser, args.train, DEFAULT_TRAIN)
    val = given_or_default_file(parser, args.val, DEFAULT_VAL)
    if not train and not val:
        parser.error('no COCO instances file: give --train and/or --val, or put '
                     f'instances_train2017.json / instances_val2017.json in {ANNOTATIONS}')
    print(f'OV-COCO: {len(OV_COCO_BASE_CLASSES)} base / {len(OV_COCO_NOVEL_CLASSES)} novel classes')
    outputs = []
    for src, keep, name in ((train, 'base', 'instances_train2017_ov_base.json'),
                            (val, 'all', 'instances_val2017_ov_all.json')):
        if not src:
            print(f'note: no {"train" if keep == "base" else "val"} file, {name} not written '
                  f'(the configs read it from {args.out_dir}; give --'
                  f'{"train" if keep == "base" else "val"})')
            continue
        with open(src) as f:
            data = json.load(f)
        try:
            check_coco_dict(data, src)
            outputs.append((make_split(data, keep, src), name))
        except ValueError as err:
            sys.exit(f'error: {err}')
    os.makedirs(args.out_dir, exist_ok=True)
    for data, name in outputs:
        dst = osp.join(args.out_dir, name)
        atomic_write_json(dst, data)
        print(f'wrote {dst}: {summary(data)}')
        empty = classes_without_annotations(data) if name.startswith('instances_val') else []
        if empty:
            empty_novel = [n for n in empty if n in set(OV_COCO_NOVEL_CLASSES)]
            print(f'warning: {len(empty)} of the 65 classes have no annotations in {dst}, e.g. '
                  f'{empty[:5]} ({len(empty_novel)} of them novel): their AP is undefined and '
                  'left out of the means' + (' (novel AP is then -1)'
                                             if len(empty_novel) == len(OV_COCO_NOVEL_CLASSES)
                                             else ''))


if __name__ == '__main__':
    main()
