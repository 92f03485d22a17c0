"""Draw dense-feature panels: image, PCA->RGB, k-means clusters and point correlation per tower.

    python tools/visualize_dense.py demo/*.jpg \\
        --tower clip=ViT-B-16@/ckpt/openai.pt --tower clipself=ViT-B-16@/ckpt/clipself.pt \\
        --tower ours=ViT-B-16@/ckpt/ours.pt --img-size 448 --point 0.4 0.6 --out-dir vis/

One PNG per image (``<out-dir>/<stem>_dense.png``), one column per tower; rows:
PCA of the tokens as RGB, a per-image k-means cluster map (colours matched across
towers), and the cosine correlation of every token to the token at --point
(marked with a cross). --stack FILE also writes all panels stacked into one PNG.
Tower items are ``[NAME=]SOURCE[@WEIGHTS][#ATTR]`` (see refclip_mm.evaluation.towers).
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.datasets.unlabeled import IMAGE_EXTENSIONS
from refclip_mm.evaluation import build_dense_tower, parse_tower, save_png, stack_panels
from refclip_mm.evaluation.dense_visualization import tower_panels


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('images', nargs='+', help='image files or folders')
    parser.add_argument('--tower', action='append', required=True, metavar='NAME=SPEC')
    parser.add_argument('--img-size', type=int, default=448,
                        help='tower input: a square of this side (a patch multiple)')
    parser.add_argument('--point', type=float, nargs=2, default=(0.5, 0.5), metavar=('Y', 'X'),
                        help='correlation query point as fractions of height and width')
    parser.add_argument('--clusters', type=int, default=8, help='k of the k-means row')
    parser.add_argument('--cell', type=int, default=224, help='pixel size of a panel cell')
    parser.add_argument('--ann-dir', help='folder of label maps <stem><ann-suffix> to show')
    parser.add_argument('--ann-suffix', default='.png')
    parser.add_argument('--max-images', type=int)
    parser.add_argument('--mode', help='last-block mode of CLIP towers (value, qq, kk, plain)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out-dir', default='work_dirs/dense_vis')
    parser.add_argument('--stack', help='also write all panels stacked into this PNG')
    return parser.parse_args(argv)


def list_images(items):
    """Files as given, folders expanded to their images (sorted)."""
    paths = []
    for item in items:
        if osp.isdir(item):
            paths += sorted(osp.join(item, n) for n in os.listdir(item)
                            if n.lower().endswith(IMAGE_EXTENSIONS))
        elif osp.isfile(item):
            paths.append(item)
        else:
            raise FileNotFoundError(f'no such image or folder: {item}')
    if not paths:
        raise FileNotFoundError(f'no images found in {items}')
    return paths


def read_labels(ann_dir, suffix, path):
    from PIL import Image
    label_path = osp.join(ann_dir, osp.splitext(osp.basename(path))[0] + suffix)
    if not osp.isfile(label_path):
        raise FileNotFoundError(f'label map {label_path} for {path} not found (--ann-dir/--ann-suffix)')
    with Image.open(label_path) as img:
        return np.array(img)


def main(argv=None):
    args = parse_args(argv)
    paths = list_images(args.images)[:args.max_images]
    towers = [build_dense_tower(parse_tower(item), mode=args.mode, seed=args.seed)
              for item in args.tower]
    labels_of = ((lambda path: read_labels(args.ann_dir, args.ann_suffix, path))
                 if args.ann_dir else None)
    panels = tower_panels(towers, paths, args.img_size, point=tuple(args.point),
                          num_clusters=args.clusters, cell=args.cell, seed=args.seed,
                          device=args.device, labels_of=labels_of)
    written = []
    for index, (path, panel) in enumerate(zip(paths, panels)):
        out = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '_dense.png')
        save_png(out, panel)
        written.append(out)
        print(f'[{index + 1}/{len(paths)}] {out}', flush=True)
    if args.stack:
        save_png(args.stack, stack_panels(panels))
        written.append(args.stack)
    print(f'wrote {len(written)} PNG files ({len(paths)} images x {len(towers)} towers) '
          f'to {args.out_dir}' + (f' and {args.stack}' if args.stack else ''))
    return written


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
