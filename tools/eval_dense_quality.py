"""Compare the dense-feature quality of CLIP towers (unsupervised segmentation, METHOD.md section 7).

    python tools/eval_dense_quality.py \\
        --tower clip=ViT-B-16@/ckpt/openai.pt --tower ours=configs/x.py@work_dirs/x/iter_6000.pth \\
        --dataset voc --data-root data/VOCdevkit/VOC2012 --img-size 448 --out-dir work_dirs/dq

For every tower: dense maps of all images (progress bar), then k-means with k =
number of classes on a token sample, assignment of all tokens, upsampling to the
label resolution, Hungarian matching over the dataset (--restarts N: N k-means seeds,
mean and std). Optionally also a linear probe (--probe-img-dir/--probe-ann-dir: a
labelled train split, same layout; the 1x1 classifier is trained there and scored on
the evaluated images) and the locality index (--locality-pairs N: copy-paste pairs
of the evaluated images; 0 = a pasted patch changes only its own tokens). Prints a
side-by-side table (mIoU, pixel accuracy, mean class accuracy, time split, and the
optional columns) and writes it as dense_quality.csv and dense_quality.json (with
per-class IoUs) to --out-dir.
Tower items are ``[NAME=]SOURCE[@WEIGHTS][#ATTR]`` (see refclip_mm.evaluation.towers).
"""
import argparse
import copy
import csv
import json
import os
import os.path as osp
import sys
import time

import numpy as np

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.evaluation import (build_dense_tower, evaluate_over_restarts,  # noqa: E402
                                   linear_probe_segmentation, load_rgb, normalize_images,
                                   parse_tower, paste_pairs, tower_locality)
from refclip_mm.evaluation.seg_folder import PRESETS, SegFolder, preset, read_label_map  # noqa: E402
from refclip_mm.evaluation.towers import extract_dense_maps  # noqa: E402

COLUMNS = ('tower', 'mIoU', 'aAcc', 'mAcc', 'images', 'tokens_per_image', 'forward_s',
           'cluster_s', 'cluster_vs_forward')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--tower', action='append', required=True, metavar='NAME=SPEC',
                        help='tower to evaluate (repeat for a side-by-side table)')
    parser.add_argument('--dataset', choices=sorted(PRESETS),
                        help='layout preset; --img-dir/--ann-dir/... override its fields')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--img-dir')
    parser.add_argument('--ann-dir')
    parser.add_argument('--num-classes', type=int)
    parser.add_argument('--img-suffix')
    parser.add_argument('--ann-suffix')
    parser.add_argument('--split-file', help='text file of image stems, relative to --data-root')
    parser.add_argument('--reduce-zero-label', action='store_true', default=None)
    parser.add_argument('--label-map', help='JSON {old: new} label mapping (unmapped -> ignore)')
    parser.add_argument('--ignore-index', type=int, default=255)
    parser.add_argument('--max-images', type=int, help='evaluate only the first N images')
    parser.add_argument('--img-size', type=int, default=448,
                        help='images are resized to a square of this side (a patch multiple)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--mode', help='last-block mode of CLIP towers (value, qq, kk, plain)')
    parser.add_argument('--max-tokens', type=int, default=100_000,
                        help='token sample k-means is fitted on')
    parser.add_argument('--upsample', choices=('bilinear', 'nearest'), default='bilinear')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--restarts', type=int, default=1,
                        help='k-means restarts (seeds seed..seed+N-1); mIoU is their mean')
    parser.add_argument('--probe-img-dir', help='linear probe: train images (under --data-root)')
    parser.add_argument('--probe-ann-dir', help='linear probe: train label maps')
    parser.add_argument('--probe-max-images', type=int, help='linear probe: first N train images')
    parser.add_argument('--locality-pairs', type=int, default=0,
                        help='locality index on N copy-paste pairs of the evaluated images')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out-dir', default='work_dirs/dense_quality')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    return args, parser


def folder_config(args, parser):
    """The dataset layout from the preset plus explicit overrides."""
    if args.dataset:
        cfg = preset(args.dataset)
    else:
        missing = [f'--{n}' for n in ('img-dir', 'ann-dir', 'num-classes')
                   if getattr(args, n.replace('-', '_')) is None]
        if missing:
            parser.error(f'without --dataset give {", ".join(missing)}')
        from refclip_mm.evaluation.seg_folder import SegFolderConfig
        cfg = SegFolderConfig(args.img_dir, args.ann_dir, args.num_classes)
    preset_classes = cfg.num_classes
    for key in ('img_dir', 'ann_dir', 'num_classes', 'img_suffix', 'ann_suffix', 'split_file',
                'reduce_zero_label'):
        value = getattr(args, key)
        if value is not None:
            setattr(cfg, key, value)
    if cfg.num_classes != preset_classes:
        cfg.class_names = None
    cfg.ignore_index = args.ignore_index
    if args.label_map:
        cfg.label_map = read_label_map(args.label_map)
    elif args.dataset == 'coco-stuff-27':
        parser.error('--dataset coco-stuff-27 needs --label-map (171 train ids -> 27 classes)')
    return cfg


def format_table(rows, columns=COLUMNS):
    """Rows of dicts -> aligned text table over ``columns``."""
    def cell(value):
        return f'{value:.2f}' if isinstance(value, float) else str(value)
    cells = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ['  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(columns, widths)))]
    lines.append('  '.join('-' * w for w in widths))
    for r in cells:
        lines.append('  '.join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(r, widths))))
    return '\n'.join(lines)


def evaluate_tower(spec, folder, args, log, probe=None):
    tower = build_dense_tower(spec, mode=args.mode, seed=args.seed)
    paths = [folder.img_path(i) for i in range(len(folder))]
    log(f'[{spec.name}] dense maps of {len(paths)} images at {args.img_size} px')
    maps, times = extract_dense_maps(tower, paths, args.img_size, args.batch_size, args.device,
                                     progress=not args.no_progress)
    log(f'[{spec.name}] clustering into {folder.cfg.num_classes} clusters '
        f'({args.restarts} restart(s))')
    start = time.perf_counter()
    restarts = evaluate_over_restarts(
        maps, folder.labels(), folder.cfg.num_classes, restarts=args.restarts, seed=args.seed,
        ignore_index=folder.cfg.ignore_index, max_tokens=args.max_tokens, upsample=args.upsample,
        names=[folder.ann_path(i) for i in range(len(folder))])
    result = restarts.results[0]
    cluster_s = time.perf_counter() - start
    row = dict(tower=spec.name, mIoU=restarts.miou, aAcc=restarts.pixel_acc,
               mAcc=restarts.mean_acc, images=result.num_images,
               tokens_per_image=result.num_tokens // result.num_images,
               forward_s=times['forward'], cluster_s=cluster_s,
               cluster_vs_forward=cluster_s / max(times['forward'], 1e-9))
    extra = dict(mIoU_std=restarts.miou_std, restart_mIoUs=restarts.mious)
    if probe is not None:
        probe_maps, _ = extract_dense_maps(tower, probe['paths'], args.img_size, args.batch_size,
                                           args.device, progress=not args.no_progress)
        probe_result = linear_probe_segmentation(
            probe_maps, probe['labels'], maps, folder.labels(), folder.cfg.num_classes,
            ignore_index=folder.cfg.ignore_index, seed=args.seed)
        row['probe_mIoU'] = probe_result.miou
        extra['probe_per_class_iou'] = [None if not np.isfinite(v) else float(v)
                                        for v in probe_result.per_class_iou]
    if args.locality_pairs:
        images = [load_rgb(folder.img_path(i), args.img_size) for i in range(len(folder))]
        pairs = [(normalize_images(a[None])[0], normalize_images(b[None])[0], m)
                 for a, b, m in paste_pairs(images, args.locality_pairs, seed=args.seed)]
        locality = tower_locality(tower.fn, pairs, batch_size=args.batch_size, device=args.device)
        row['locality'] = locality.index
        extra['locality_per_pair'] = locality.per_pair
    del tower
    names = folder.cfg.class_names or [str(i) for i in range(folder.cfg.num_classes)]
    detail = dict(row, spec=dict(source=spec.source, weights=spec.weights, attr=spec.attr),
                  load_s=times['load'], cluster_timings=result.timings, **extra,
                  per_class_iou={n: (None if not np.isfinite(v) else float(v))
                                 for n, v in zip(names, result.per_class_iou)})
    log(f'[{spec.name}] mIoU {restarts.miou:.2f}  aAcc {restarts.pixel_acc:.2f}'
        + (f'  probe mIoU {row["probe_mIoU"]:.2f}' if 'probe_mIoU' in row else '')
        + (f'  locality {row["locality"]:.3f}' if 'locality' in row else ''))
    return row, detail


def main(argv=None):
    args, parser = parse_args(argv)
    specs = [parse_tower(item) for item in args.tower]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        parser.error(f'tower names must be unique, got {names}; write NAME=SPEC')
    folder = SegFolder.scan(args.data_root, folder_config(args, parser), args.max_images)

    def log(message):
        print(message, flush=True)

    log(f'{len(folder)} images from {osp.join(args.data_root, folder.cfg.img_dir)}, '
        f'{folder.cfg.num_classes} classes, {len(specs)} towers')
    probe = None
    if bool(args.probe_img_dir) != bool(args.probe_ann_dir):
        parser.error('the linear probe needs both --probe-img-dir and --probe-ann-dir')
    if args.probe_img_dir:
        train_cfg = copy.deepcopy(folder.cfg)
        train_cfg.img_dir, train_cfg.ann_dir, train_cfg.split_file = (
            args.probe_img_dir, args.probe_ann_dir, None)
        train = SegFolder.scan(args.data_root, train_cfg, args.probe_max_images)
        probe = dict(paths=[train.img_path(i) for i in range(len(train))],
                     labels=[train.load_labels(i) for i in range(len(train))])
        log(f'linear probe: {len(train)} train images from '
            f'{osp.join(args.data_root, args.probe_img_dir)}')
    rows, details = [], []
    for spec in specs:
        row, detail = evaluate_tower(spec, folder, args, log, probe)
        rows.append(row)
        details.append(detail)
    os.makedirs(args.out_dir, exist_ok=True)
    csv_path = osp.join(args.out_dir, 'dense_quality.csv')
    json_path = osp.join(args.out_dir, 'dense_quality.json')
    columns = COLUMNS + tuple(c for c in ('probe_mIoU', 'locality') if c in rows[0])
    with open(csv_path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows([{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                          for r in rows])
    settings = {k: v for k, v in vars(args).items() if k != 'tower'}
    with open(json_path, 'w') as f:
        json.dump(dict(settings=settings, towers=details), f, indent=2)
    log('\nUnsupervised segmentation of dense features (k-means + Hungarian, percent)')
    log(format_table(rows, columns))
    best = max(rows, key=lambda r: r['mIoU'])
    total = sum(r['forward_s'] + r['cluster_s'] for r in rows)
    log(f'\nbest: {best["tower"]} ({best["mIoU"]:.2f} mIoU); {len(folder)} images, '
        f'{total:.2f} s in towers + clustering; wrote {csv_path} and {json_path}')
    return rows


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
