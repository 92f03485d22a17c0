"""Compare the dense-feature quality of CLIP towers (unsupervised segmentation,
docs/method.md section 7).

    python tools/eval_dense_quality.py \\
        --tower clip=ViT-B-16@/ckpt/openai.pt --tower ours=configs/x.py@work_dirs/x/iter_6000.pth \\
        --dataset voc --data-root data/VOCdevkit/VOC2012 --img-size 448 --out-dir work_dirs/dq

For every tower: dense maps of all images (progress bar), then k-means with k =
number of classes on a token sample, assignment of all tokens, upsampling to the
label resolution, Hungarian matching over the dataset (--restarts N: N k-means seeds,
mean and std). Optionally also a linear probe (--probe-img-dir/--probe-ann-dir: a
labelled train split, same layout; the 1x1 classifier is trained there and scored on
the evaluated images) and the locality index (--locality-pairs N: copy-paste pairs
of the evaluated images; 0 = a pasted patch changes only its own tokens). --zoomed-windows K
measures every tower on K x K windows, each zoomed to the image size (the Refiner's training
target for the whole image: is there anything for a Refiner to recover?). Prints a
side-by-side table (mIoU, pixel accuracy, mean class accuracy, time split, and the
optional columns) and writes it as dense_quality.csv and dense_quality.json (with
per-class IoUs) to --out-dir.
Tower items are ``[NAME=]SOURCE[@WEIGHTS][#ATTR]`` (see refclip_mm.evaluation.towers).
"""
import argparse
import copy
import os.path as osp
import sys

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.evaluation import parse_tower
from refclip_mm.evaluation.compare import (CompareOptions, compare_towers, format_table,
                                           table_columns, write_report)
from refclip_mm.evaluation.seg_folder import PRESETS, SegFolder, preset, read_label_map


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
    parser.add_argument('--zoomed-windows', type=int, default=1, metavar='K',
                        help='measure each tower on K x K windows, each zoomed to --img-size '
                             '(1: the full view; the locality index is then lower by '
                             'construction)')
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


def main(argv=None):
    args, parser = parse_args(argv)
    if args.zoomed_windows < 1 or args.img_size % args.zoomed_windows:
        parser.error(f'--zoomed-windows {args.zoomed_windows}: give a positive K that divides '
                     f'--img-size {args.img_size}')
    specs = [parse_tower(item) for item in args.tower]
    folder = SegFolder.scan(args.data_root, folder_config(args, parser), args.max_images)
    probe = None
    if bool(args.probe_img_dir) != bool(args.probe_ann_dir):
        parser.error('the linear probe needs both --probe-img-dir and --probe-ann-dir')
    if args.probe_img_dir:
        train_cfg = copy.deepcopy(folder.cfg)
        train_cfg.img_dir, train_cfg.ann_dir, train_cfg.split_file = (
            args.probe_img_dir, args.probe_ann_dir, None)
        probe = SegFolder.scan(args.data_root, train_cfg, args.probe_max_images)

    def log(message):
        print(message, flush=True)

    log(f'{len(folder)} images from {osp.join(args.data_root, folder.cfg.img_dir)}, '
        f'{folder.cfg.num_classes} classes, {len(specs)} towers'
        + (f'; linear probe trained on {len(probe)} images' if probe is not None else ''))
    options = CompareOptions(
        img_size=args.img_size, batch_size=args.batch_size, device=args.device, mode=args.mode,
        max_tokens=args.max_tokens, upsample=args.upsample, seed=args.seed,
        restarts=args.restarts, locality_pairs=args.locality_pairs, windows=args.zoomed_windows,
        progress=not args.no_progress)
    try:
        rows, details = compare_towers(specs, folder, options, probe, log)
    except ValueError as err:
        if 'tower names must be unique' in str(err):
            parser.error(str(err))
        raise
    settings = {k: v for k, v in vars(args).items() if k != 'tower'}
    csv_path, json_path = write_report(rows, details, settings, args.out_dir)
    log('\nUnsupervised segmentation of dense features (k-means + Hungarian, percent)')
    log(format_table(rows, table_columns(rows)))
    best = max(rows, key=lambda r: r['mIoU'])
    total = sum(r['forward_s'] + r['cluster_s'] for r in rows)
    log(f'\nbest: {best["tower"]} ({best["mIoU"]:.2f} mIoU); {len(folder)} images, '
        f'{total:.2f} s in towers + clustering; wrote {csv_path} and {json_path}')
    return rows


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
