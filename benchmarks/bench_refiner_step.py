"""Stage-1 step cost vs. the frozen-tower forward passes it needs.

A stage-1 (Refiner) training step runs the frozen CLIP on the full view and on
M zoomed crops; everything else (Refiner, RoIAlign, losses, backward, AdamW)
should add little. Prints ``step time / tower forwards time`` (target <= 1.25).

    python benchmarks/bench_refiner_step.py [--model ViT-B-16] [--size 448] [--batch 2]
                                             [--repeats 3] [--device cpu|cuda]
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from refclip_mm.models.trainers import RefinerTrainer  # noqa: E402
from timing import timed  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--size', type=int, default=448)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--boxes', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = RefinerTrainer(clip_model=args.model, num_boxes=args.boxes).to(args.device)
    model.tower.follow(torch.empty(0, device=args.device))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    crops = torch.randn(args.batch * args.boxes, 3, args.size, args.size, device=args.device)

    def tower_only():
        model.clip_dense(images)
        model.clip_dense(crops)

    def step():
        opt.zero_grad()
        losses = model.loss(images)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        opt.step()

    tower = timed(tower_only, args.repeats, args.device)
    full = timed(step, args.repeats, args.device)
    print(f'{args.model} {args.size}px batch {args.batch} x {args.boxes} boxes on {args.device}')
    print(f'frozen tower forwards (1 + {args.boxes} views): {tower * 1000:.0f} ms')
    print(f'stage-1 training step:                 {full * 1000:.0f} ms')
    print(f'ratio step / tower forwards: {full / tower:.3f} (target <= 1.25)')
    return full / tower


if __name__ == '__main__':
    main()
