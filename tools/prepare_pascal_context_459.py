"""Convert the PASCAL-Context full annotations into Pascal Context-459 label maps for mmseg.

Input (the official release, https://cs.stanford.edu/~roozbeh/pascal-context/)::

    trainval/<image id>.mat     MATLAB files with a 'LabelMap' (H x W), values = class ids of
                                labels.txt (0 = unlabelled)
    labels.txt                  "<id>: <name>" per line, ids 1..459
    + a split file, e.g. VOCdevkit/VOC2010/ImageSets/SegmentationContext/val.txt (image ids)

Output::

    <out-root>/annotations_459/<split>/<image id>.png   16-bit: id - 1 (0..458), 65535 = unlabelled
    <out-root>/classes_459.txt                           line k = name of label k

Images stay in VOC2010/JPEGImages (mmseg's Pascal Context layout); use
``--out-root data/VOCdevkit/VOC2010`` so the dataset config finds everything.

    python tools/prepare_pascal_context_459.py --mat-dir data/pascal_context/trainval \
        --labels data/pascal_context/labels.txt \
        --split-file data/VOCdevkit/VOC2010/ImageSets/SegmentationContext/val.txt \
        --out-root data/VOCdevkit/VOC2010
"""
import argparse
import os
import os.path as osp
import sys
from typing import List

import cv2
import numpy as np

IGNORE = 65535


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='PASCAL-Context .mat -> PC-459 16-bit label maps')
    p.add_argument('--mat-dir', required=True, help='folder of <image id>.mat files (trainval/)')
    p.add_argument('--labels', required=True, help='labels.txt ("<id>: <name>" lines)')
    p.add_argument('--split-file', help='image ids to convert, one per line (default: every .mat)')
    p.add_argument('--split-name', default='val', help='output sub-folder name')
    p.add_argument('--out-root', required=True)
    return p.parse_args(argv)


def read_labels(path: str) -> List[str]:
    """Names in id order; ids must be 1..N without gaps."""
    entries = {}
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            key, sep, name = line.partition(':')
            if not sep or not key.strip().isdigit():
                sys.exit(f'error: {path}:{number}: expected "<id>: <name>", got {line.strip()!r}')
            entries[int(key)] = name.strip()
    if sorted(entries) != list(range(1, len(entries) + 1)):
        sys.exit(f'error: {path}: class ids must be 1..{len(entries)} without gaps')
    return [entries[i] for i in range(1, len(entries) + 1)]


def convert(mat_path: str, num_classes: int) -> np.ndarray:
    from scipy.io import loadmat
    data = loadmat(mat_path)
    if 'LabelMap' not in data:
        keys = sorted(k for k in data if not k.startswith('__'))
        raise KeyError(f'{mat_path} has no LabelMap (keys: {keys})')
    ids = np.asarray(data['LabelMap']).astype(np.int64)
    bad = np.unique(ids[(ids < 0) | (ids > num_classes)])
    if bad.size:
        raise ValueError(f'{mat_path}: LabelMap values {bad[:10].tolist()} are not class ids '
                         f'0..{num_classes}')
    labels = (ids - 1).astype(np.int64)
    labels[ids == 0] = IGNORE
    return labels.astype(np.uint16)


def main(argv=None) -> int:
    args = parse_args(argv)
    names = read_labels(args.labels)
    if args.split_file:
        with open(args.split_file, encoding='utf-8') as f:
            ids = [line.strip() for line in f if line.strip()]
    else:
        ids = sorted(osp.splitext(n)[0] for n in os.listdir(args.mat_dir) if n.endswith('.mat'))
    missing = [i for i in ids if not osp.isfile(osp.join(args.mat_dir, i + '.mat'))]
    if missing:
        sys.exit(f'error: {len(missing)} ids of the split have no .mat in {args.mat_dir}, e.g. {missing[:3]}')
    out_dir = osp.join(args.out_root, 'annotations_459', args.split_name)
    os.makedirs(out_dir, exist_ok=True)
    labelled = total = 0
    for image_id in ids:
        labels = convert(osp.join(args.mat_dir, image_id + '.mat'), len(names))
        cv2.imwrite(osp.join(out_dir, image_id + '.png'), labels)
        labelled += int((labels != IGNORE).sum())
        total += labels.size
    classes = osp.join(args.out_root, 'classes_459.txt')
    with open(classes, 'w', encoding='utf-8') as f:
        f.writelines(f'{n}\n' for n in names)
    print(f'{args.split_name}: {len(ids)} label maps (16-bit, {IGNORE} = unlabelled) -> {out_dir} '
          f'({100.0 * labelled / max(total, 1):.1f}% of pixels labelled)')
    print(f'classes: {len(names)} -> {classes}')
    return len(ids)


if __name__ == '__main__':
    main()
