"""Dense forward vs open_clip's encode_image: time and peak-memory ratios.

    python benchmarks/bench_dense_forward.py [--model ViT-B-16] [--sizes 224 1024]
        [--batch 2] [--repeats 5 2] [--device cpu|cuda] [--no-memory]

Random weights (nothing is downloaded). For every input size S the reference is
open_clip's ``encode_image`` of ``open_clip.create_model(model, force_image_size=S)``;
ours is ``build_image_tower(model).forward_dense`` (value mode) of the tower at its
native size, so it includes resizing the positional embedding. Timings alternate
between the two in ABBA order after one warm-up each; the ratio uses the fastest run
of each (robust to other load on a shared machine), medians are printed too. On CPU
the process CPU time of each forward is measured as well (``time.process_time``, all
threads): on a machine shared with other jobs it tracks the work done, not the waiting. Peak memory of one
forward at the largest size: on CPU the growth of the peak resident set size in a
fresh process per implementation (Linux ``clear_refs``/``VmHWM``), on CUDA
``torch.cuda.max_memory_allocated``. Printed ratios are ours / open_clip
(targets: time <= 1.05, memory <= 1.1).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

import torch
from process_memory import reset_peak_rss, status_kib

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--sizes', type=int, nargs='+', default=[224, 1024])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, nargs='+', default=[5, 2],
                        help='timed runs per size (last value repeats for further sizes)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory measurement')
    parser.add_argument('--memory-worker', choices=['ours', 'open_clip'], help=argparse.SUPPRESS)
    parser.add_argument('--size', type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build(impl, model_name, size, device):
    """Return a no-arg callable running one forward of ``impl`` on a fixed batch."""
    if impl == 'open_clip':
        import open_clip
        model = open_clip.create_model(model_name, force_image_size=size).to(device).eval()
        return lambda x: model.encode_image(x)
    from refclip_mm.clip import build_image_tower
    tower = build_image_tower(model_name).to(device).eval()
    return lambda x: tower.forward_dense(x).dense


def sync(device):
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def time_pair(model_name, size, batch, repeats, device):
    """Seconds per forward (all runs) for open_clip and ours, interleaved ABBA."""
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size, device=device)
    fns = {impl: build(impl, model_name, size, device) for impl in ('open_clip', 'ours')}
    times = {impl: [] for impl in fns}
    cpu_times = {impl: [] for impl in fns}
    with torch.inference_mode():
        for fn in fns.values():  # warm-up
            fn(x)
        sync(device)
        for rep in range(repeats):
            order = list(fns.items()) if rep % 2 == 0 else list(fns.items())[::-1]
            for impl, fn in order:
                start, cpu_start = time.perf_counter(), time.process_time()
                fn(x)
                sync(device)
                times[impl].append(time.perf_counter() - start)
                cpu_times[impl].append(time.process_time() - cpu_start)
    return times, cpu_times


def memory_worker(impl, model_name, size, batch, device):
    """Peak extra memory (MiB) of one forward of ``impl``; printed as json."""
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size, device=device)
    fn = build(impl, model_name, size, device)
    with torch.inference_mode():
        if str(device).startswith('cuda'):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            fn(x)
            torch.cuda.synchronize()
            peak = (torch.cuda.max_memory_allocated() - before) / 2**20
        else:
            before = status_kib('VmRSS')
            reset_peak_rss()
            fn(x)
            peak = (status_kib('VmHWM') - before) / 1024
    print(json.dumps({'impl': impl, 'peak_mib': peak}))


def measure_memory(model_name, size, batch, device):
    peaks = {}
    for impl in ('open_clip', 'ours'):
        cmd = [sys.executable, osp.abspath(__file__), '--model', model_name, '--batch', str(batch),
               '--device', device, '--memory-worker', impl, '--size', str(size)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        if proc.returncode != 0:
            raise RuntimeError(f'memory worker for {impl} failed:\n{proc.stderr[-2000:]}')
        peaks[impl] = json.loads(proc.stdout.strip().splitlines()[-1])['peak_mib']
    return peaks


def main(argv=None):
    args = parse_args(argv)
    if args.memory_worker:
        return memory_worker(args.memory_worker, args.model, args.size, args.batch, args.device)
    device = args.device
    print(f'model {args.model}, batch {args.batch}, device {device}, torch {torch.__version__}, '
          f'threads {torch.get_num_threads()}')
    results = {}
    for i, size in enumerate(args.sizes):
        repeats = args.repeats[min(i, len(args.repeats) - 1)]
        runs, cpu_runs = time_pair(args.model, size, args.batch, repeats, device)
        best = {impl: min(t) for impl, t in runs.items()}
        median = {impl: statistics.median(t) for impl, t in runs.items()}
        ratio = best['ours'] / best['open_clip']
        results[f'time_{size}'] = ratio
        print(f'{size:>5d} px: open_clip encode_image {best["open_clip"]:.3f} s (median '
              f'{median["open_clip"]:.3f}), dense forward {best["ours"]:.3f} s (median '
              f'{median["ours"]:.3f})  -> time ratio {ratio:.3f} (best of {repeats})')
        if not str(device).startswith('cuda'):
            cpu = {impl: statistics.median(t) for impl, t in cpu_runs.items()}
            results[f'cpu_time_{size}'] = cpu['ours'] / cpu['open_clip']
            print(f'{size:>5d} px: process CPU time open_clip {cpu["open_clip"]:.3f} s, dense '
                  f'forward {cpu["ours"]:.3f} s  -> CPU-time ratio '
                  f'{results[f"cpu_time_{size}"]:.3f} (median of {repeats})')
    if not args.no_memory:
        size = max(args.sizes)
        peaks = measure_memory(args.model, size, args.batch, device)
        ratio = peaks['ours'] / peaks['open_clip']
        results[f'memory_{size}'] = ratio
        print(f'{size:>5d} px: peak memory open_clip {peaks["open_clip"]:.0f} MiB, dense forward '
              f'{peaks["ours"]:.0f} MiB  -> memory ratio {ratio:.3f}')
    print('ratios: ' + ', '.join(f'{k} {v:.3f}' for k, v in results.items()))
    return results


if __name__ == '__main__':
    main()
