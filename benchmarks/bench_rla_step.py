"""Cost of SCD in stage 2: SC-RLA and R-SC-RLA steps vs a CLIPSelf step, with a breakdown.

The headline is ``R-SC-RLA / CLIPSelf`` at 1024 px (the paper's stage-2 setting, target
<= 1.35); 448 px is printed beside it. An SC-RLA / R-SC-RLA step is a CLIPSelf step plus the
SCD loss term: the frozen teacher's dense forward, the Refiner (R-SC-RLA), the token
extraction (RoIAlign of every box to a g x g grid, student and teacher), the SCD loss (its
forward computes the gradient too) and, every ``agreement_interval`` iterations, the
agreement metric. Each piece is timed inside the step (wall clock around the call; CUDA is
synchronised) and printed as a share of the step.

Per size: one warm-up R-SC-RLA step, then ``--repeats`` rounds; each round runs one step of
every kind, the order rotating from round to round so all kinds see the same machine load.
Medians are quoted, with the process CPU time (all threads) beside the wall time: on a
machine shared with other jobs it tracks the work done rather than the waiting. A third
figure, ``(CLIPSelf step + the SCD pieces) / CLIPSelf step``, does not depend on how fast the
CLIPSelf part of an SCD step happened to run. The timed
steps are at an iteration where the agreement metric is not due (the default
``agreement_interval``); its cost when due is timed separately on the same tokens.

Kinds: ``clipself``; ``sc`` / ``rsc`` (teacher in the hook's default precision, bf16);
``sc-fp32`` / ``rsc-fp32`` (fp32 teacher, the reference the bf16 teacher is checked against).

    python benchmarks/bench_rla_step.py [--model ViT-B-16] [--sizes 1024 448] [--batch 2]
        [--boxes 16] [--repeats 2 3] [--kinds clipself sc rsc rsc-fp32] [--device cpu|cuda]
        [--grad-checkpointing]
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from collections import defaultdict

import torch
from mmengine.structures import BaseDataElement

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.hooks import SCDDistillHook  # noqa: E402
from refclip_mm.models.backbones import Refiner  # noqa: E402
from refclip_mm.models.refiner_file import save_refiner  # noqa: E402
from refclip_mm.models.trainers import RLATrainer  # noqa: E402

NAMES = {'clipself': 'CLIPSelf', 'sc': 'SC-RLA', 'rsc': 'R-SC-RLA', 'sc-fp32': 'SC-RLA fp32',
         'rsc-fp32': 'R-SC-RLA fp32'}
PIECES = ('teacher dense forward', 'Refiner', 'token extraction', 'SCD loss')


def grid_boxes(size, boxes):
    side = max(1, int(boxes ** 0.5))
    step = size / side
    return torch.tensor([[c * step, r * step, (c + 1) * step, (r + 1) * step]
                         for r in range(side) for c in range(side)][:boxes])


class Clock:
    """Wall-clock seconds per named piece of the current step."""

    def __init__(self, device):
        self.device = device
        self.times = defaultdict(float)

    def sync(self):
        if str(self.device).startswith('cuda'):
            torch.cuda.synchronize()

    def wrap(self, name, fn):
        def timed(*args, **kwargs):
            self.sync()
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            self.sync()
            self.times[name] += time.perf_counter() - start
            return out
        return timed


class FrozenTimer:
    """A FrozenModule stand-in that times every call under ``name``."""

    def __init__(self, frozen, clock, name):
        self.frozen, self.call = frozen, clock.wrap(name, frozen)

    def __call__(self, *args, **kwargs):
        return self.call(*args, **kwargs)


def make_hook(model, refiner_file, precision, clock):
    """The SCD term an SCD hook attaches to ``model``, its pieces reporting to ``clock``; the
    SCD inputs are kept."""
    term = SCDDistillHook(refiner_file=refiner_file, precision=precision).build_term(model)
    term.teacher.tower = FrozenTimer(term.teacher.tower, clock, 'teacher dense forward')
    if refiner_file is not None:
        term.teacher.refiner = FrozenTimer(term.teacher.refiner, clock, 'Refiner')
    term.agreement_due = lambda: False  # as between the iterations that log scd_agreement
    term.tokens = clock.wrap('token extraction', term.tokens)
    scd = term.loss
    term.last_pair = None

    def scd_kept(student, target):
        term.last_pair = (student.detach(), target)
        return scd(student, target)

    term.loss = clock.wrap('SCD loss', scd_kept)
    return term


def write_refiner(dim, path, clip_model):
    """A Refiner file (with its metadata) for ``clip_model``'s projected tokens."""
    torch.manual_seed(1)
    refiner = Refiner(dim)  # the default stage-1 Refiner: 2 blocks, 8 heads
    torch.nn.init.normal_(refiner.out.weight, std=0.02)  # trained-like: not the identity
    save_refiner(refiner, path, 'projected', clip_model, source='bench_rla_step.py')


def measure_size(args, size, repeats, refiner_file):
    torch.manual_seed(0)
    model = RLATrainer(clip_model=args.model, grad_checkpointing=args.grad_checkpointing)
    model = model.to(args.device)
    images = torch.randn(args.batch, 3, size, size, device=args.device)
    samples = []
    for i in range(args.batch):
        sample = BaseDataElement(metainfo=dict(img_path=f'{i}.jpg'))
        sample.boxes = grid_boxes(size, args.boxes)
        samples.append(sample)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    clock = Clock(args.device)
    hooks = {}
    for kind in args.kinds:
        if kind != 'clipself':
            precision = 'fp32' if kind.endswith('fp32') else None
            hooks[kind] = make_hook(model, refiner_file if kind.startswith('rsc') else None,
                                    precision or SCDDistillHook().precision, clock)

    def step(kind):
        if kind != 'clipself':
            model.add_loss_term('scd', hooks[kind].rla_term)
        clock.times.clear()
        opt.zero_grad()
        clock.sync()
        start, cpu = time.perf_counter(), time.process_time()
        losses = model.loss(images, samples)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        opt.step()
        clock.sync()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if kind != 'clipself':
            model.remove_loss_term('scd')
        return wall, cpu, dict(clock.times)

    warm = 'rsc' if 'rsc' in hooks else args.kinds[-1]
    step(warm)
    runs = defaultdict(list)
    agreement = []
    for rnd in range(repeats):
        order = args.kinds[rnd % len(args.kinds):] + args.kinds[:rnd % len(args.kinds)]
        for kind in order:
            runs[kind].append(step(kind))
            if kind in hooks and hooks[kind].last_pair is not None and kind == warm:
                clock.sync()
                start = time.perf_counter()
                hooks[kind].agreement(*hooks[kind].last_pair)
                clock.sync()
                agreement.append(time.perf_counter() - start)
    return runs, agreement, hooks


def report(args, size, repeats, runs, agreement, hooks):
    med = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
    print(f'--- {size} px: {args.model}, batch {args.batch} x {args.boxes} boxes, {args.device}, '
          f'{torch.get_num_threads()} threads, medians of {repeats} rounds')
    for kind in args.kinds:
        each = ', '.join(f'{r[0]:.1f}' for r in runs[kind])
        print(f'  {NAMES[kind]:<14} step {med[kind]:8.2f} s  (runs {each}; CPU time '
              f'{cpu[kind]:.1f} s)')
    ratios = {}
    if 'clipself' in med:
        for kind in args.kinds:
            if kind == 'clipself':
                continue
            ratios[kind] = med[kind] / med['clipself']
            print(f'  ratio {NAMES[kind]} / CLIPSelf: {ratios[kind]:.3f} '
                  f'(CPU time {cpu[kind] / cpu["clipself"]:.3f})')
    for kind in args.kinds:
        if kind == 'clipself':
            continue
        total = med[kind]
        parts = {name: statistics.median(r[2].get(name, 0.0) for r in runs[kind])
                 for name in PIECES}
        text = ', '.join(f'{name} {t:.2f} s ({100 * t / total:.1f}%)' for name, t in parts.items()
                         if t > 0)
        extra = total - med.get('clipself', total)
        print(f'  breakdown {NAMES[kind]} (share of its step): {text}; sum '
              f'{100 * sum(parts.values()) / total:.1f}%, step - CLIPSelf step {extra:.2f} s')
        if 'clipself' in med:  # robust to load changes between the steps of a round
            print(f'    ratio from the breakdown, (CLIPSelf step + these pieces) / CLIPSelf step: '
                  f'{1 + sum(parts.values()) / med["clipself"]:.3f}')
    if agreement:
        interval = next(iter(hooks.values())).agreement_interval
        t = statistics.median(agreement)
        base = med.get('rsc', next(iter(med.values())))
        print(f'  agreement metric when due: {t * 1000:.0f} ms ({100 * t / base:.2f}% of a '
              f'R-SC-RLA step); every {interval} iterations: {100 * t / base / interval:.3f}%')
    return ratios


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--sizes', type=int, nargs='+', default=[1024, 448])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--boxes', type=int, default=16)
    parser.add_argument('--repeats', type=int, nargs='+', default=[2, 3],
                        help='rounds per size (the last value repeats for further sizes)')
    parser.add_argument('--kinds', nargs='+', default=['clipself', 'sc', 'rsc', 'rsc-fp32'],
                        choices=sorted(NAMES))
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--grad-checkpointing', action='store_true',
                        help='recompute the student in backward (as the stage-2 configs do)')
    args = parser.parse_args(argv)
    print(f'torch {torch.__version__}, load average before: '
          + ' '.join(f'{x:.2f}' for x in os.getloadavg()))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        refiner_file = osp.join(tmp, 'refiner.pth')
        dim = RLATrainer(clip_model=args.model).student.embed_dim
        write_refiner(dim, refiner_file, args.model)
        for i, size in enumerate(args.sizes):
            repeats = args.repeats[min(i, len(args.repeats) - 1)]
            runs, agreement, hooks = measure_size(args, size, repeats, refiner_file)
            results[size] = report(args, size, repeats, runs, agreement, hooks)
            print('  load average now: ' + ' '.join(f'{x:.2f}' for x in os.getloadavg()),
                  flush=True)
    head = max(results)
    print('=== headline (paper setting, {} px): '.format(head) + ', '.join(
        f'{NAMES[k]} / CLIPSelf {v:.3f}' for k, v in results[head].items())
        + ' (target for R-SC-RLA <= 1.35)')
    for size in sorted(results):
        if size != head:
            print(f'    beside it, {size} px: ' + ', '.join(
                f'{NAMES[k]} / CLIPSelf {v:.3f}' for k, v in results[size].items()))
    return results


if __name__ == '__main__':
    main()
