"""Build OV-LVIS training annotations from LVIS v1: rare classes become novel (not trained on).

    python tools/prepare_ov_lvis.py --train data/lvis_v1/annotations/lvis_v1_train.json \
        --out-dir data/lvis_v1/annotations

Writes ``lvis_v1_train_ov_base.json`` (annotations of frequent + common classes only; all
categories and images kept) and ``lvis_v1_ov_novel_classes.json`` (the rare class names, for
the box head's ``novel_classes``). Validation uses ``lvis_v1_val.json`` unchanged. Prints what
it wrote.
"""
import argparse
import json
import os
import os.path as osp


def make_split(data: dict):
    """(base-only copy of ``data``, list of rare class names)."""
    bad = [c['name'] for c in data['categories'] if c.get('frequency') not in ('r', 'c', 'f')]
    if bad:
        raise ValueError(f'categories without frequency r/c/f: {bad[:10]} (is it LVIS v1?)')
    rare = {c['id'] for c in data['categories'] if c['frequency'] == 'r'}
    out = dict(data, annotations=[a for a in data['annotations'] if a['category_id'] not in rare])
    names = [c['name'] for c in sorted(data['categories'], key=lambda c: c['id']) if c['id'] in rare]
    return out, names


def _write(path: str, data) -> None:
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f)
    os.replace(path + '.tmp', path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train', required=True, help='lvis_v1_train.json')
    parser.add_argument('--out-dir', required=True)
    args = parser.parse_args(argv)
    with open(args.train) as f:
        data = json.load(f)
    out, rare = make_split(data)
    os.makedirs(args.out_dir, exist_ok=True)
    train_path = osp.join(args.out_dir, 'lvis_v1_train_ov_base.json')
    novel_path = osp.join(args.out_dir, 'lvis_v1_ov_novel_classes.json')
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
