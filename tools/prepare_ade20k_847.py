"""Convert the full ADE20K release (ADE20K_2021_17_01) into ADE20K-847 for mmseg.

Input (the official release, unpacked)::

    ADE20K_2021_17_01/
      index_ade20k.pkl            pickle dict with 'filename', 'folder', 'objectnames'
                                  (and 'objectPresence', objects x images, used for the
                                  default class selection)
      images/ADE/{training,validation}/<scene>/ADE_{train,val}_*.jpg
      images/ADE/.../ADE_*_seg.png   RGB; object class id = R / 10 * 256 + G (0 = unlabelled),
                                     class id k is objectnames[k - 1]

``folder`` entries may start with ``ADE20K_2021_17_01/`` (resolved against the parent of
``--ade-root``) or be relative to ``--ade-root``.

Output under ``--out-root`` (default: ``--ade-root``)::

    images_847/<split>/<name>.jpg          (resized so the short side is <= --max-short-side)
    annotations_847/<split>/<name>.png     16-bit: 0..846 = class, 65535 = unlabelled / other
    classes_847.txt                        one name per line, line k = label k
    classes_847.json                       [{"name", "ade_id", "train_id"}, ...]

Classes: ``--categories FILE.json`` gives the list to use ([{"name", "id", "trainId"}], ``id``
the ADE class id, e.g. the 847-class list of MaskFormer / Cat-Seg: use it to reproduce
published numbers). Without it, the classes present in at least one training and one
validation image (``objectPresence``) are taken, in ADE-id order; the count is printed and a
warning is given when it is not 847.

    python tools/prepare_ade20k_847.py --ade-root data/ADE20K_2021_17_01 [--splits validation]
"""
import argparse
import json
import os
import os.path as osp
import pickle
import sys
from typing import Dict, List, Tuple

import cv2
import numpy as np

IGNORE = 65535
SPLITS = {'training': 'train', 'validation': 'val'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='ADE20K_2021_17_01 -> ADE20K-847 (16-bit label maps)')
    p.add_argument('--ade-root', required=True, help='the unpacked ADE20K_2021_17_01 folder')
    p.add_argument('--out-root', help='output folder (default: --ade-root)')
    p.add_argument('--categories', help='json list of {"name", "id", "trainId"} to use')
    p.add_argument('--splits', nargs='+', default=['validation'], choices=sorted(SPLITS))
    p.add_argument('--max-short-side', type=int, default=512,
                   help='resize images / labels whose short side exceeds this (0: keep size)')
    p.add_argument('--limit', type=int, default=0, help='convert at most N images per split')
    return p.parse_args(argv)


def load_index(root: str) -> dict:
    path = osp.join(root, 'index_ade20k.pkl')
    if not osp.isfile(path):
        sys.exit(f'error: {path} not found: --ade-root must be the unpacked ADE20K_2021_17_01 folder')
    with open(path, 'rb') as f:
        index = pickle.load(f)
    missing = [k for k in ('filename', 'folder', 'objectnames') if k not in index]
    if missing:
        sys.exit(f'error: {path} lacks {missing}; is it the ADE20K_2021_17_01 index?')
    return index


def split_of(filename: str) -> str:
    return 'validation' if '_val_' in filename else 'training'


def select_categories(index: dict, categories_file: str) -> List[Tuple[str, int]]:
    """``[(name, ade_id)]`` in train-id order."""
    names = list(index['objectnames'])
    if categories_file:
        with open(categories_file, encoding='utf-8') as f:
            cats = sorted(json.load(f), key=lambda c: c['trainId'])
        if [c['trainId'] for c in cats] != list(range(len(cats))):
            sys.exit(f'error: trainIds in {categories_file} must be 0..{len(cats) - 1}')
        differ = [(c['id'], c['name'], names[c['id'] - 1]) for c in cats
                  if 0 < c['id'] <= len(names) and names[c['id'] - 1] != c['name']]
        out_of_range = [c['id'] for c in cats if not 0 < c['id'] <= len(names)]
        if out_of_range:
            sys.exit(f'error: ids {out_of_range[:5]} of {categories_file} are not ADE class ids '
                     f'(1..{len(names)})')
        if differ:
            print(f'warning: {len(differ)} names differ from index objectnames, e.g. '
                  f'(id, file, index) {differ[:3]}')
        return [(c['name'], int(c['id'])) for c in cats]
    if 'objectPresence' not in index:
        sys.exit('error: the index has no objectPresence; pass --categories')
    presence = np.asarray(index['objectPresence'])
    if presence.shape[0] != len(names):
        presence = presence.T
    is_val = np.array([split_of(f) == 'validation' for f in index['filename']])
    in_train = (presence[:, ~is_val] > 0).any(axis=1)
    in_val = (presence[:, is_val] > 0).any(axis=1)
    chosen = np.flatnonzero(in_train & in_val)
    if len(chosen) != 847:
        print(f'warning: {len(chosen)} classes appear in both splits (not 847); pass --categories '
              'with the published list to reproduce published numbers')
    return [(names[i], int(i) + 1) for i in chosen]


def resolve(root: str, folder: str, filename: str) -> str:
    for base in (osp.dirname(osp.abspath(root)), root):
        path = osp.join(base, folder, filename)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'image {filename} not found under {folder!r} (relative to {root!r} '
                            'or its parent)')


def decode_classes(seg_path: str) -> np.ndarray:
    """ADE class ids (int32, H x W) of a ``*_seg.png``: R / 10 * 256 + G."""
    seg = cv2.imread(seg_path, cv2.IMREAD_COLOR)
    if seg is None:
        raise FileNotFoundError(f'cannot read the class mask {seg_path}')
    r, g = seg[..., 2].astype(np.int32), seg[..., 1].astype(np.int32)  # cv2 is BGR
    return (r // 10) * 256 + g


def convert_one(img_path: str, id_map: np.ndarray, max_short: int) -> Tuple[np.ndarray, np.ndarray]:
    img = cv2.imread(img_path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read {img_path}')
    ade = decode_classes(img_path[:-4] + '_seg.png')
    if ade.shape != img.shape[:2]:
        raise ValueError(f'{img_path}: image {img.shape[:2]} and mask {ade.shape} differ in size')
    labels = np.full(ade.shape, IGNORE, np.uint16)
    known = ade < len(id_map)
    labels[known] = id_map[ade[known]]
    h, w = labels.shape
    if max_short and min(h, w) > max_short:
        scale = max_short / min(h, w)
        size = (round(w * scale), round(h * scale))
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
        labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
    return img, labels


def main(argv=None) -> Dict[str, int]:
    args = parse_args(argv)
    root, out = args.ade_root, args.out_root or args.ade_root
    index = load_index(root)
    cats = select_categories(index, args.categories)
    id_map = np.full(max(len(index['objectnames']), max(i for _, i in cats)) + 1, IGNORE, np.uint16)
    for train_id, (_, ade_id) in enumerate(cats):
        id_map[ade_id] = train_id
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'classes_847.txt'), 'w', encoding='utf-8') as f:
        f.writelines(f'{name}\n' for name, _ in cats)
    with open(osp.join(out, 'classes_847.json'), 'w', encoding='utf-8') as f:
        json.dump([dict(name=n, ade_id=i, train_id=t) for t, (n, i) in enumerate(cats)], f, indent=1)
    counts = {}
    for split in args.splits:
        img_dir = osp.join(out, 'images_847', split)
        ann_dir = osp.join(out, 'annotations_847', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        items = [(fo, fi) for fo, fi in zip(index['folder'], index['filename']) if split_of(fi) == split]
        if args.limit:
            items = items[:args.limit]
        labelled = total = 0
        for folder, filename in items:
            img, labels = convert_one(resolve(root, folder, filename), id_map, args.max_short_side)
            stem = osp.splitext(filename)[0]
            cv2.imwrite(osp.join(img_dir, stem + '.jpg'), img)
            cv2.imwrite(osp.join(ann_dir, stem + '.png'), labels)
            labelled += int((labels != IGNORE).sum())
            total += labels.size
        counts[split] = len(items)
        print(f'{split}: {len(items)} images -> {img_dir}, 16-bit labels -> {ann_dir} '
              f'({100.0 * labelled / max(total, 1):.1f}% of pixels labelled, rest {IGNORE})')
    print(f'classes: {len(cats)} -> {osp.join(out, "classes_847.txt")} (+ classes_847.json)')
    return counts


if __name__ == '__main__':
    main()
