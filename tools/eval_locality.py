"""Locality ("contamination") index of CLIP towers on a folder of images, by copy-paste.

    python tools/eval_locality.py --tower clip=ViT-B-16-quickgelu@checkpoints/ViT-B-16-openai.pt \\
        --tower ours=ViT-B-16-quickgelu@work_dirs/rla/tower.pth --img-dir data/coco/val2017 \\
        --max-images 200 --pairs 200 --img-size 448

Images are taken from --img-dir and its subfolders (sorted). Each pair is an image and the
same image with a square patch pasted from another image (seeded). For every tower: the mean
change (1 - cos) of the dense tokens that overlap the patch (near) and of those at least
--min-distance tokens away (far); the index is far/near (0 = the paste changes only its own
tokens). No labels are needed. Tower items are ``[NAME=]SOURCE[@WEIGHTS][#ATTR]`` (see
refclip_mm.evaluation.towers). Writes locality.json.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.datasets.unlabeled import list_images
from refclip_mm.evaluation import build_dense_tower, load_rgb, parse_tower, tower_locality
from refclip_mm.evaluation.locality import normalized_paste_pairs
from refclip_mm.evaluation.towers import size_for


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--tower', action='append', required=True, metavar='NAME=SPEC')
    parser.add_argument('--img-dir', required=True)
    parser.add_argument('--max-images', type=int, default=200)
    parser.add_argument('--pairs', type=int, default=200)
    parser.add_argument('--img-size', type=int, default=448)
    parser.add_argument('--min-distance', type=int, default=2, help='far tokens: at least this '
                        'many tokens away from the pasted patch')
    parser.add_argument('--mode', help='last-block mode of CLIP towers (value, qq, kk, plain)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out-dir', default='work_dirs/locality')
    args = parser.parse_args(argv)
    names = list_images(args.img_dir)[:args.max_images]
    if len(names) < 2:
        parser.error(f'--img-dir {args.img_dir!r} needs at least 2 images, found {len(names)}')
    images = [load_rgb(osp.join(args.img_dir, n), args.img_size) for n in names]
    pairs = normalized_paste_pairs(images, args.pairs, seed=args.seed)
    print(f'{len(pairs)} copy-paste pairs from {len(images)} images at {args.img_size} px')
    results = {}
    for item in args.tower:
        spec = parse_tower(item)
        tower = build_dense_tower(spec, mode=args.mode, seed=args.seed)
        size_for(tower, args.img_size)
        tower.module.to(args.device)
        result = tower_locality(tower.fn, pairs, args.min_distance, args.batch_size, args.device)
        results[spec.name] = dict(result.as_dict(), per_pair=result.per_pair)
        print(f'{spec.name:>16}  locality {result.index:.3f}  (near {result.near_change:.4f}, '
              f'far {result.far_change:.4f})')
    os.makedirs(args.out_dir, exist_ok=True)
    path = osp.join(args.out_dir, 'locality.json')
    with open(path, 'w') as f:
        json.dump(dict(settings=vars(args), towers=results), f, indent=2)
    print(f'wrote {path}')
    return results


if __name__ == '__main__':
    main()
