"""Dense-quality evaluation cost: tower forward vs clustering (target: clustering <= 20 %).

    python benchmarks/bench_dense_quality.py [--num-images 500] [--img-size 448]
        [--model ViT-B-16] [--num-classes 27] [--batch-size 8] [--device cpu] [--out FILE]

Random weights (nothing is downloaded) and random images, so only the time is
meaningful. Labels are random blocky maps at the image resolution with
``--num-classes`` classes (COCO-Stuff-27 by default). The tower part is the dense
forward of every image (fp16 maps kept, as the metric does); the clustering part
is everything :func:`refclip_mm.evaluation.evaluate_dense_features` does after it
(token sample, cosine k-means on up to ``--max-tokens`` tokens, assignment of all
tokens, bilinear upsampling to the label maps, confusion matrix, Hungarian matching).
"""
import argparse
import json
import os.path as osp
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.evaluation import build_dense_tower, evaluate_dense_features, parse_tower  # noqa


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=500)
    parser.add_argument('--img-size', type=int, default=448)
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--num-classes', type=int, default=27)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--max-tokens', type=int, default=100_000)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the numbers as JSON here')
    return parser.parse_args(argv)


def random_batch(generator, count, size):
    """CLIP-normalised-looking random images ``count x 3 x size x size``."""
    return torch.randn(count, 3, size, size, generator=generator)


def random_labels(generator, count, size, num_classes):
    """Blocky label maps (an 8 x 8 grid of classes, nearest-upsampled), ``size x size`` int16."""
    coarse = torch.randint(num_classes, (count, 1, 8, 8), generator=generator).float()
    return [m[0].to(torch.int16) for m in F.interpolate(coarse, size=(size, size), mode='nearest')]


def main(argv=None):
    args = parse_args(argv)
    generator = torch.Generator().manual_seed(args.seed)
    tower = build_dense_tower(parse_tower(f'{args.model}@random'), seed=args.seed)
    tower.module.to(args.device)
    print(f'{args.model} (random weights), {args.num_images} images at {args.img_size} px, '
          f'{torch.get_num_threads()} threads, device {args.device}', flush=True)
    maps = []
    with torch.no_grad():
        tower.fn(random_batch(generator, 1, args.img_size).to(args.device))  # warm-up
        forward = 0.0
        done = 0
        while done < args.num_images:
            count = min(args.batch_size, args.num_images - done)
            images = random_batch(generator, count, args.img_size).to(args.device)
            start = time.perf_counter()
            dense = tower.fn(images)
            maps.extend(d.to('cpu', torch.float16) for d in dense)
            forward += time.perf_counter() - start
            done += count
            print(f'\r  forward {done}/{args.num_images} ({forward / done:.3f} s/image)', end='',
                  flush=True)
    print()
    labels = random_labels(generator, args.num_images, args.img_size, args.num_classes)
    start = time.perf_counter()
    result = evaluate_dense_features(maps, labels, args.num_classes, max_tokens=args.max_tokens,
                                     seed=args.seed)
    clustering = time.perf_counter() - start
    ratio = clustering / forward
    numbers = dict(model=args.model, num_images=args.num_images, img_size=args.img_size,
                   threads=torch.get_num_threads(), device=args.device,
                   tokens_per_image=result.num_tokens // result.num_images,
                   embed_dim=int(maps[0].shape[0]), sampled_tokens=result.num_sampled,
                   forward_s=forward, clustering_s=clustering, clustering_parts_s=result.timings,
                   ratio=ratio, target=0.2, passed=ratio <= 0.2)
    parts = ', '.join(f'{k} {v:.2f} s' for k, v in result.timings.items())
    print(f'tower forward : {forward:8.2f} s ({forward / args.num_images:.3f} s/image)')
    print(f'clustering    : {clustering:8.2f} s ({parts})')
    print(f'ratio clustering / forward = {ratio:.3f}  (target <= 0.20: '
          f'{"PASS" if ratio <= 0.2 else "FAIL"})')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(numbers, f, indent=2)
    return numbers


if __name__ == '__main__':
    sys.exit(0 if main()['passed'] else 1)
