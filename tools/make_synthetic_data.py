"""Write a synthetic-scene dataset (COCO instances + captions, mmseg semantic maps).

    python tools/make_synthetic_data.py OUT_DIR [--train 64] [--val 16] [--size 64] [--seed 0]
"""
import argparse
import os.path as osp
import sys
import time

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES, SceneConfig, write_dataset


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir')
    parser.add_argument('--train', type=int, default=64, help='number of training images')
    parser.add_argument('--val', type=int, default=16, help='number of validation images')
    parser.add_argument('--size', type=int, default=64, help='image side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.train < 1 or args.val < 1:
        parser.error('--train and --val must be at least 1')
    start = time.time()
    summary = write_dataset(args.out_dir, dict(train=args.train, val=args.val), seed=args.seed,
                            cfg=SceneConfig(image_size=args.size))
    for split, counts in summary.items():
        print(f'{split}: {counts["images"]} images, {counts["instances"]} instances')
    print(f'novel thing classes: {", ".join(NOVEL_THING_CLASSES)}')
    print(f'wrote {args.out_dir} in {time.time() - start:.1f} s')
    return summary


if __name__ == '__main__':
    main()
