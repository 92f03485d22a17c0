"""Stage-1 step cost: the frozen tower in bf16 vs fp32, with a breakdown of the step.

A stage-1 (Refiner) training step runs the frozen CLIP on the full view and on M zoomed crops
(each resized to the full input size); the Refiner (forward and backward), RoIAlign, the losses
and AdamW come on top. Per tower precision (``--precisions``, default bf16 = the trainer's
default, then fp32) one warm-up step, then ``--repeats`` rounds alternating the precisions;
medians. Printed: each step, the speed-up of the default over fp32, and the breakdown (tower
on the full view, tower on the crops, Refiner forward, losses; the rest is backward and the
optimiser) as shares of the step; ``step / tower forwards`` is the old figure (target <= 1.25).

    python benchmarks/bench_refiner_step.py [--model ViT-B-16] [--size 448] [--batch 2]
        [--boxes 3] [--repeats 3] [--precisions bf16 fp32] [--device cpu|cuda]
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from bench_rla_step import Clock  # noqa: E402

from refclip_mm.models.trainers import RefinerTrainer  # noqa: E402

PIECES = ('tower, full view', 'tower, crops', 'Refiner forward', 'losses')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--size', type=int, default=448)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--boxes', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--precisions', nargs='+', default=['bf16', 'fp32'],
                        choices=['fp32', 'bf16', 'fp16'])
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    print(f'torch {torch.__version__}, load average before: '
          + ' '.join(f'{x:.2f}' for x in os.getloadavg()))
    torch.manual_seed(0)
    model = RefinerTrainer(clip_model=args.model, num_boxes=args.boxes).to(args.device)
    torch.nn.init.normal_(model.refiner.out.weight, std=0.02)  # trained-like: not the identity
    model.tower.follow(torch.empty(0, device=args.device))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    clock = Clock(args.device)
    clip_dense, calls = model.clip_dense, []

    def timed_clip_dense(x):  # first call of a step: the full view; second: the crops
        calls.append(x)
        return clock.wrap(PIECES[0] if len(calls) == 1 else PIECES[1], clip_dense)(x)

    model.clip_dense = timed_clip_dense
    model.refiner.forward = clock.wrap(PIECES[2], model.refiner.forward)
    model.loss_dense.forward = clock.wrap(PIECES[3], model.loss_dense.forward)
    model.scd.loss.forward = clock.wrap(PIECES[3], model.scd.loss.forward)
    model.scd.agreement_due = lambda: False  # as between the iterations that log it

    def step(precision):
        model.tower_precision = precision
        calls.clear()
        clock.times.clear()
        opt.zero_grad()
        clock.sync()
        start, cpu = time.perf_counter(), time.process_time()
        losses = model.loss(images)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        opt.step()
        clock.sync()
        return time.perf_counter() - start, time.process_time() - cpu, dict(clock.times)

    for precision in args.precisions:
        step(precision)
    runs = {p: [] for p in args.precisions}
    for rnd in range(args.repeats):
        order = args.precisions if rnd % 2 == 0 else args.precisions[::-1]
        for precision in order:
            runs[precision].append(step(precision))
    print(f'{args.model} {args.size}px batch {args.batch} x {args.boxes} boxes on {args.device}, '
          f'{torch.get_num_threads()} threads, medians of {args.repeats} rounds')
    med = {}
    for precision, rows in runs.items():
        med[precision] = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        parts = {name: statistics.median(r[2].get(name, 0.0) for r in rows) for name in PIECES}
        tower = parts[PIECES[0]] + parts[PIECES[1]]
        print(f'  tower {precision}: step {med[precision]:.2f} s (runs '
              + ', '.join(f'{r[0]:.2f}' for r in rows) + f'; CPU time {cpu:.1f} s); '
              + ', '.join(f'{n} {t:.2f} s ({100 * t / med[precision]:.1f}%)'
                          for n, t in parts.items())
              + f'; backward + AdamW + rest {med[precision] - sum(parts.values()):.2f} s; '
              f'step / tower forwards {med[precision] / tower:.3f}')
    if 'fp32' in med:
        for precision in med:
            if precision != 'fp32':
                print(f'  step with the {precision} tower / step with the fp32 tower: '
                      f'{med[precision] / med["fp32"]:.3f}')
    print('  load average now: ' + ' '.join(f'{x:.2f}' for x in os.getloadavg()))
    return med


if __name__ == '__main__':
    main()
