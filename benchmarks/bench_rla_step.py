"""Cost of SCD in stage 2: an R-SC-RLA step vs a plain CLIPSelf step (target ratio <= 1.4).

The R-SC-RLA step adds the frozen teacher's dense forward, the Refiner and the
region-level SCD loss to a CLIPSelf step; both are measured in this run.

    python benchmarks/bench_rla_step.py [--model ViT-B-16] [--size 1024] [--batch 2]
                                         [--boxes 20] [--repeats 3] [--device cpu|cuda]
"""
import argparse
import os.path as osp
import sys
import tempfile

import torch
from mmengine.structures import BaseDataElement

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from refclip_mm.hooks import SCDDistillHook  # noqa: E402
from refclip_mm.models.backbones import Refiner  # noqa: E402
from refclip_mm.models.trainers import RLATrainer  # noqa: E402
from refclip_mm.utils.atomic import atomic_torch_save  # noqa: E402
from timing import timed  # noqa: E402


def grid_boxes(size, boxes):
    side = max(1, int(boxes ** 0.5))
    step = size / side
    return torch.tensor([[c * step, r * step, (c + 1) * step, (r + 1) * step]
                         for r in range(side) for c in range(side)][:boxes])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--boxes', type=int, default=16)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = RLATrainer(clip_model=args.model, grad_checkpointing=False).to(args.device)
    images = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    samples = []
    for i in range(args.batch):
        sample = BaseDataElement(metainfo=dict(img_path=f'{i}.jpg'))
        sample.boxes = grid_boxes(args.size, args.boxes)
        samples.append(sample)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)

    def step():
        opt.zero_grad()
        losses = model.loss(images, samples)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        opt.step()

    with tempfile.TemporaryDirectory() as tmp:
        dim = model.student.embed_dim
        path = osp.join(tmp, 'refiner.pth')
        atomic_torch_save(dict(state_dict=Refiner(dim).state_dict(), meta=dict(
            refiner_cfg=dict(dim=dim, depth=2, num_heads=8, mlp_ratio=4.0))), path)
        hook = SCDDistillHook(refiner=path)
        hook.teacher = hook._build_teacher(model)
        hook.refiner = hook._build_refiner(model.student)
    # alternate the two kinds of step round by round so both see the same machine load
    plain_times, scd_times = [], []
    for _ in range(args.repeats):
        plain_times.append(timed(step, 1, args.device))
        model.add_loss_term('scd', hook.loss_term)
        scd_times.append(timed(step, 1, args.device))
        model.remove_loss_term('scd')
    plain, with_scd = min(plain_times), min(scd_times)
    print(f'{args.model} {args.size}px batch {args.batch} x {args.boxes} boxes on {args.device}')
    print(f'CLIPSelf step (best of {args.repeats}): {plain * 1000:.0f} ms')
    print(f'R-SC-RLA step (best of {args.repeats}): {with_scd * 1000:.0f} ms')
    print(f'ratio R-SC-RLA / CLIPSelf: {with_scd / plain:.3f} (target <= 1.4)')
    return with_scd / plain


if __name__ == '__main__':
    main()
