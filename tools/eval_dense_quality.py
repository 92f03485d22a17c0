"""Compare the dense-feature quality of CLIP towers (unsupervised segmentation, METHOD.md section 7).

    python tools/eval_dense_quality.py \\
        --tower clip=ViT-B-16@/ckpt/openai.pt --tower ours=configs/x.py@work_dirs/x/iter_6000.pth \\
        --dataset voc --data-root data/VOCdevkit/VOC2012 --img-size 448 --out-dir work_dirs/dq

For every tower: dense maps of all images (progress bar), then k-means with k =
number of classes on a token sample, assignment of all tokens, upsampling to the
label resolution, Hungarian matching over the dataset. Prints a side-by-side table
(mIoU, pixel accuracy, mean class accuracy, time split) and writes it as
dense_quality.csv and dense_quality.json (with per-class IoUs) to --out-dir.
Tower items are ``[NAME=]SOURCE[@WEIGHTS][#ATTR]`` (see refclip_mm.evaluation.towers).
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys
import time

import numpy as np

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.evaluation import build_dense_tower, evaluate_dense_features, parse_tower  # noqa: E402
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


def format_table(rows):
    """Rows of dicts -> aligned text table over :data:`COLUMNS`."""
    def cell(value):
        return f'{value:.2f}' if isinstance(value, float) else str(value)
    cells = [[cell(r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    lines = ['  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(COLUMNS, widths)))]
    lines.append('  '.join('-' * w for w in widths))
    for r in cells:
        lines.append('  '.join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(r, widths))))
    return '\n'.join(lines)


def evaluate_tower(spec, folder, args, log):
    tower = build_dense_tower(spec, mode=args.mode, seed=args.seed)
    paths = [folder.img_path(i) for i in range(len(folder))]
    log(f'[{spec.name}] dense maps of {len(paths)} images at {args.img_size} px')
    maps, times = extract_dense_maps(tower, paths, args.img_size, args.batch_size, args.device,
                                     progress=not args.no_progress)
    del tower
    log(f'[{spec.name}] clustering into {folder.cfg.num_classes} clusters')
    start = time.perf_counter()
    result = evaluate_dense_features(
        maps, folder.labels(), folder.cfg.num_classes, ignore_index=folder.cfg.ignore_index,
        max_tokens=args.max_tokens, upsample=args.upsample, seed=args.seed,
        names=[folder.ann_path(i) for i in range(len(folder))])
    cluster_s = time.perf_counter() - start
    row = dict(tower=spec.name, mIoU=result.miou, aAcc=result.pixel_acc, mAcc=result.mean_acc,
               images=result.num_images, tokens_per_image=result.num_tokens // result.num_images,
               forward_s=times['forward'], cluster_s=cluster_s,
               cluster_vs_forward=cluster_s / max(times['forward'], 1e-9))
    names = folder.cfg.class_names or [str(i) for i in range(folder.cfg.num_classes)]
    detail = dict(row, spec=dict(source=spec.source, weights=spec.weights, attr=spec.attr),
                  load_s=times['load'], cluster_timings=result.timings,
                  per_class_iou={n: (None if not np.isfinite(v) else float(v))
                                 for n, v in zip(names, result.per_class_iou)})
    log(f'[{spec.name}] mIoU {result.miou:.2f}  aAcc {result.pixel_acc:.2f}')
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
    rows, details = [], []
    for spec in specs:
        row, detail = evaluate_tower(spec, folder, args, log)
        rows.append(row)
        details.append(detail)
    os.makedirs(args.out_dir, exist_ok=True)
    csv_path = osp.join(args.out_dir, 'dense_quality.csv')
    json_path = osp.join(args.out_dir, 'dense_quality.json')
    with open(csv_path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows([{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                          for r in rows])
    settings = {k: v for k, v in vars(args).items() if k != 'tower'}
    with open(json_path, 'w') as f:
        json.dump(dict(settings=settings, towers=details), f, indent=2)
    log('\nUnsupervised segmentation of dense features (k-means + Hungarian, percent)')
    log(format_table(rows))
    best = max(rows, key=lambda r: r['mIoU'])
    total = sum(r['forward_s'] + r['cluster_s'] for r in rows)
    log(f'\nbest: {best["tower"]} ({best["mIoU"]:.2f} mIoU); {len(folder)} images, '
        f'{total:.2f} s in towers + clustering; wrote {csv_path} and {json_path}')
    return rows


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
