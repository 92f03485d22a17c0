"""Build OV-LVIS training annotations from LVIS v1: rare classes become novel (not trained on).

    python tools/prepare_ov_lvis.py     # = --train data/lvis_v1/annotations/lvis_v1_train.json
                                        #   --val data/lvis_v1/annotations/lvis_v1_val.json
                                        #   --out-dir data/lvis_v1/annotations

Writes ``lvis_v1_train_ov_base.json`` (annotations of frequent + common classes only; all
categories and images kept) and ``lvis_v1_ov_novel_classes.json`` (the rare class names, for
the box head's ``novel_classes``) into ``--out-dir``, by default where the OV-LVIS configs read
them (``data_root`` ``data/lvis_v1/``, relative to the folder you run from). Validation uses
``lvis_v1_val.json`` unchanged; the tool checks it (the fields LVISMetric reads, the same
categories as the train file) and says where the configs expect it. Prints what it wrote.

A default input that does not exist is skipped; a given one must exist. For a test-only run
(no train file), the val file alone writes ``lvis_v1_ov_novel_classes.json`` from its
categories: LVIS v1 val carries the same ``frequency`` field (the same 337 rare classes).

Both files are checked when read, stopping with the file and what it lacks: images need
``coco_url`` (their path), categories ``frequency`` r/c/f (the rare = novel split and
LVISMetric's APr/APc/APf). A trimmed file, holding some of LVIS v1's 1,203 categories, is
accepted: the OV-LVIS dataset's classes are then its categories (see docs/detection.md).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.apis.cli import given_or_default_file
from refclip_mm.datasets.ov_detection import LVIS_V1_CLASSES, check_lvis_dict, compare_with_lvis_v1
from refclip_mm.utils.atomic import atomic_write_json

ANNOTATIONS = osp.join('data', 'lvis_v1', 'annotations')  # the configs' data_root + annotations
DEFAULT_TRAIN = osp.join(ANNOTATIONS, 'lvis_v1_train.json')
DEFAULT_VAL = osp.join(ANNOTATIONS, 'lvis_v1_val.json')


def make_split(data: dict):
    """(base-only copy of ``data``, list of rare class names)."""
    names = rare_names(data)
    rare = {c['id'] for c in data['categories'] if c['frequency'] == 'r'}
    out = dict(data, annotations=[a for a in data['annotations'] if a['category_id'] not in rare])
    return out, names


def rare_names(data: dict, path: str = 'the annotation file'):
    """The rare (``frequency == 'r'``) class names of an LVIS file, in category-id order."""
    bad = [c['name'] for c in data['categories'] if c.get('frequency') not in ('r', 'c', 'f')]
    if bad:
        raise ValueError(f'{path}: {len(bad)} categories lack "frequency" r/c/f, e.g. '
                         f'{bad[:5]} (is it LVIS v1?)')
    return [c['name'] for c in sorted(data['categories'], key=lambda c: c['id'])
            if c['frequency'] == 'r']


def read_lvis(path: str, for_evaluation: bool) -> dict:
    """Read and check an LVIS file; prints how its categories compare with LVIS v1's."""
    with open(path) as f:
        data = json.load(f)
    check_lvis_dict(data, path, for_evaluation=for_evaluation)
    names = [c['name'] for c in data['categories']]
    missing, unknown = compare_with_lvis_v1(names)
    if unknown:
        print(f'note: {path}: {len(unknown)} of its {len(names)} categories are not LVIS v1 class '
              f'names, e.g. {unknown[:3]}: the OV-LVIS dataset then needs metainfo classes '
              '(docs/custom_datasets.md)')
    elif missing:
        print(f'note: {path} is trimmed: it holds {len(names)} of the {len(LVIS_V1_CLASSES):,} '
              'LVIS v1 categories; the OV-LVIS dataset takes its categories as the classes, so '
              'build the class embeddings from a file with the same categories')
    return data


def check_same_categories(train: dict, val: dict, train_path: str, val_path: str) -> None:
    """The box head scores one class list for training and evaluation."""
    def pairs(data):
        return {c['name']: c.get('frequency') for c in data['categories']}

    a, b = pairs(train), pairs(val)
    if a == b:
        return
    only_train, only_val = [n for n in a if n not in b], [n for n in b if n not in a]
    if only_train or only_val:
        raise ValueError(
            f'{train_path} and {val_path} hold different categories ({len(only_train)} only in '
            f'train, e.g. {only_train[:3]}; {len(only_val)} only in val, e.g. {only_val[:3]}): '
            'the box head scores one class list in training and evaluation; give both files '
            'the same categories')
    differ = [n for n in a if a[n] != b[n]]
    raise ValueError(f'{train_path} and {val_path} give {len(differ)} categories different '
                     f'frequencies, e.g. {differ[:3]}: the rare (novel) classes must be the same')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train', help=f'lvis_v1_train.json (default: {DEFAULT_TRAIN} if it '
                        'exists)')
    parser.add_argument('--val', help=f'lvis_v1_val.json (default: {DEFAULT_VAL} if it exists): '
                        'checked; without a train file, the novel class list is taken from its '
                        'categories (test-only runs)')
    parser.add_argument('--out-dir', default=ANNOTATIONS,
                        help=f'default: {ANNOTATIONS}, where the OV-LVIS configs read')
    args = parser.parse_args(argv)
    train_path = given_or_default_file(parser, args.train, DEFAULT_TRAIN)
    val_path = given_or_default_file(parser, args.val, DEFAULT_VAL)
    if not train_path and not val_path:
        parser.error(f'no LVIS file: give --train (training and testing) or --val (testing '
                     f'only), or put lvis_v1_train.json / lvis_v1_val.json in {ANNOTATIONS}')
    try:
        train = read_lvis(train_path, for_evaluation=False) if train_path else None
        val = read_lvis(val_path, for_evaluation=True) if val_path else None
        if train is not None and val is not None:
            check_same_categories(train, val, train_path, val_path)
    except ValueError as err:
        sys.exit(f'error: {err}')
    os.makedirs(args.out_dir, exist_ok=True)
    novel_path = osp.join(args.out_dir, 'lvis_v1_ov_novel_classes.json')
    if train is None:
        rare = rare_names(val, val_path)
        atomic_write_json(novel_path, rare)
        print(f'wrote {novel_path}: {len(rare)} novel (rare) class names from {val_path}')
    else:
        out, rare = make_split(train)
        dst = osp.join(args.out_dir, 'lvis_v1_train_ov_base.json')
        atomic_write_json(dst, out)
        atomic_write_json(novel_path, rare)
        counts = {k: sum(c['frequency'] == k for c in train['categories']) for k in 'fcr'}
        print(f'categories: {counts["f"]} frequent, {counts["c"]} common, {counts["r"]} rare '
              '(novel)')
        print(f'wrote {dst}: {len(out["images"])} images, {len(out["annotations"])} of '
              f'{len(train["annotations"])} annotations kept '
              f'({len(train["annotations"]) - len(out["annotations"])} rare-class removed)')
        print(f'wrote {novel_path}: {len(rare)} novel class names')
    expected_val = osp.join(args.out_dir, 'lvis_v1_val.json')
    if val_path is None:
        print(f'note: no val file checked; the configs evaluate on {expected_val}')
    elif osp.abspath(val_path) != osp.abspath(expected_val):
        print(f'note: the configs evaluate on lvis_v1_val.json beside these files (used as '
              f'is): copy {val_path} to {expected_val}')


if __name__ == '__main__':
    main()
