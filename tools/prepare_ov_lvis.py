"""Build OV-LVIS training annotations from LVIS v1: rare classes become novel (not trained on).

    python tools/prepare_ov_lvis.py --train data/lvis_v1/annotations/lvis_v1_train.json \
        --out-dir data/lvis_v1/annotations

Writes ``lvis_v1_train_ov_base.json`` (annotations of frequent + common classes only; all
categories and images kept) and ``lvis_v1_ov_novel_classes.json`` (the rare class names, for
the box head's ``novel_classes``). Validation uses ``lvis_v1_val.json`` unchanged. Prints what
it wrote.

For a test-only run (no train file), ``--val lvis_v1_val.json`` alone writes
``lvis_v1_ov_novel_classes.json`` from the val file's categories: LVIS v1 val carries the same
``frequency`` field (the rare classes are the same 337 in both files).
"""
import argparse
import json
import os
import os.path as osp


def make_split(data: dict):
    """(base-only copy of ``data``, list of rare class names)."""
    names = rare_names(data)
    rare = {c['id'] for c in data['categories'] if c['frequency'] == 'r'}
    out = dict(data, annotations=[a for a in data['annotations'] if a['category_id'] not in rare])
    return out, names


def rare_names(data: dict):
    """The rare (``frequency == 'r'``) class names of an LVIS file, in category-id order."""
    bad = [c['name'] for c in data['categories'] if c.get('frequency') not in ('r', 'c', 'f')]
    if bad:
        raise ValueError(f'categories without frequency r/c/f: {bad[:10]} (is it LVIS v1?)')
    return [c['name'] for c in sorted(data['categories'], key=lambda c: c['id'])
            if c['frequency'] == 'r']


def _write(path: str, data) -> None:
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f)
    os.replace(path + '.tmp', path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train', help='lvis_v1_train.json')
    parser.add_argument('--val', help='lvis_v1_val.json: without --train, the novel class list '
                        'is taken from its categories (test-only runs)')
    parser.add_argument('--out-dir', required=True)
    args = parser.parse_args(argv)
    if not args.train and not args.val:
        parser.error('give --train (training and testing) or --val (testing only)')
    os.makedirs(args.out_dir, exist_ok=True)
    novel_path = osp.join(args.out_dir, 'lvis_v1_ov_novel_classes.json')
    if not args.train:
        with open(args.val) as f:
            rare = rare_names(json.load(f))
        _write(novel_path, rare)
        print(f'wrote {novel_path}: {len(rare)} novel (rare) class names from {args.val}')
        return
    with open(args.train) as f:
        data = json.load(f)
    out, rare = make_split(data)
    train_path = osp.join(args.out_dir, 'lvis_v1_train_ov_base.json')
    _write(train_path, out)
    _write(novel_path, rare)
    counts = {k: sum(c['frequency'] == k for c in data['categories']) for k in 'fcr'}
    print(f'categories: {counts["f"]} frequent, {counts["c"]} common, {counts["r"]} rare (novel)')
    print(f'wrote {train_path}: {len(out["images"])} images, {len(out["annotations"])} of '
          f'{len(data["annotations"])} annotations kept '
          f'({len(data["annotations"]) - len(out["annotations"])} rare-class removed)')
    print(f'wrote {novel_path}: {len(rare)} novel class names')


if __name__ == '__main__':
    main()
