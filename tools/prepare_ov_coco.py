"""Build OV-COCO annotation files (48 base / 17 novel classes) from COCO 2017 instances.

    python tools/prepare_ov_coco.py --train data/coco/annotations/instances_train2017.json \
        --val data/coco/annotations/instances_val2017.json --out-dir data/coco/annotations

Writes ``instances_train2017_ov_base.json`` (base-class annotations only) and
``instances_val2017_ov_all.json`` (base + novel annotations); both keep the 65 OV-COCO
categories (the other 15 COCO classes are dropped) with a ``split`` field (base/novel), and
all images. Prints what it wrote.

``--train`` also takes a base-only file that has just the 48 base categories; its output then
has those 48, which ``OVCocoDataset`` accepts for training (``drop_novel=True``).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.datasets.ov_detection import (OV_COCO_BASE_CLASSES, OV_COCO_CLASSES,
                                              OV_COCO_NOVEL_CLASSES)


def make_split(data: dict, keep: str) -> dict:
    """``keep='base'``: base annotations only; ``'all'``: base and novel."""
    by_name = {c['name']: c for c in data['categories']}
    missing = [n for n in OV_COCO_CLASSES if n not in by_name]
    novel = set(OV_COCO_NOVEL_CLASSES)
    if missing and (keep == 'all' or not set(missing) <= novel):
        lacking = [n for n in missing if keep == 'all' or n not in novel]
        raise ValueError(
            f'the annotation file lacks {len(lacking)} OV-COCO categories, e.g. {lacking[:10]}. '
            + ('The validation file needs all 65 (base and novel): give COCO 2017\'s '
               'instances_val2017.json.' if keep == 'all' else
               'A training file needs the 48 base categories (the novel ones may be absent, as '
               'in a base-only file): give COCO 2017\'s instances_train2017.json.'))
    categories = [dict(by_name[n], split='novel' if n in novel else 'base')
                  for n in OV_COCO_CLASSES if n in by_name]
    categories.sort(key=lambda c: c['id'])
    allowed = {c['id'] for c in categories if keep == 'all' or c['split'] == 'base'}
    annotations = [a for a in data['annotations'] if a['category_id'] in allowed]
    out = {k: v for k, v in data.items() if k not in ('annotations', 'categories')}
    out.update(categories=categories, annotations=annotations)
    return out


def summary(data: dict) -> str:
    split = {c['id']: c['split'] for c in data['categories']}
    base = sum(split[a['category_id']] == 'base' for a in data['annotations'])
    with_ann = len({a['image_id'] for a in data['annotations']})
    return (f'{len(data["images"])} images ({with_ann} with annotations), '
            f'{len(data["categories"])} categories, {len(data["annotations"])} annotations '
            f'({base} base, {len(data["annotations"]) - base} novel)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train', help='instances_train2017.json')
    parser.add_argument('--val', help='instances_val2017.json')
    parser.add_argument('--out-dir', required=True)
    args = parser.parse_args(argv)
    if not args.train and not args.val:
        parser.error('give --train and/or --val')
    os.makedirs(args.out_dir, exist_ok=True)
    print(f'OV-COCO: {len(OV_COCO_BASE_CLASSES)} base / {len(OV_COCO_NOVEL_CLASSES)} novel classes')
    for src, keep, name in ((args.train, 'base', 'instances_train2017_ov_base.json'),
                            (args.val, 'all', 'instances_val2017_ov_all.json')):
        if not src:
            continue
        with open(src) as f:
            data = make_split(json.load(f), keep)
        dst = osp.join(args.out_dir, name)
        with open(dst + '.tmp', 'w') as f:
            json.dump(data, f)
        os.replace(dst + '.tmp', dst)
        print(f'wrote {dst}: {summary(data)}')


if __name__ == '__main__':
    main()
