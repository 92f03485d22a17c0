"""Peak memory and time of the blockwise SCD loss against the full-matrix reference.

Image-level SCD (docs/method.md section 3): ``B x N x D`` student and target tokens, forward +
backward. Every measurement runs in a fresh subprocess, so nothing is shared between the two
implementations:

* memory: one forward + backward. On CPU the peak is the growth of the process's maximum
  resident set size (``ru_maxrss``) over its value right after the inputs were made; those
  workers run with ``MALLOC_MMAP_THRESHOLD_=131072`` so that glibc returns every freed large
  block at once and the high-water mark follows live memory rather than heap fragmentation.
  On CUDA it is ``torch.cuda.max_memory_allocated`` over the inputs.
* time: one more subprocess (default malloc) runs the two implementations in alternation,
  ``--repeats`` rounds after a warm-up round, so both see the same machine load; the median.

The parent compares loss values and gradients and prints the memory and time ratios
(blockwise / reference; targets: memory <= 0.25, time <= 1.0).

    PYTHONPATH=. python benchmarks/bench_scd_loss.py                 # N=4096, B=2, D=512, CPU
    PYTHONPATH=. python benchmarks/bench_scd_loss.py --threads 1     # fairer on a busy machine
    PYTHONPATH=. python benchmarks/bench_scd_loss.py --device cuda --n 9216
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

IMPLS = ('reference', 'blockwise')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--n', type=int, default=4096, help='tokens per item (h*w)')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--block-size', type=int, default=None,
                        help='rows per block (default: automatic)')
    parser.add_argument('--tau', type=float, default=0.2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads in each worker (default: torch default)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--worker', choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument('--phase', choices=('memory', 'time'), help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _setup(args):
    """Inputs and the two implementations: ``(student, target, {impl: run}, sync, device)``."""
    import torch

    from refclip_mm.models.losses.scd import scd_loss, scd_loss_reference

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(args.seed)
    student = torch.randn(args.batch, args.n, args.dim, generator=gen).to(device)
    target = torch.randn(args.batch, args.n, args.dim, generator=gen).to(device)
    student.requires_grad_(True)
    impls = dict(reference=lambda: scd_loss_reference(student, target, args.tau),
                 blockwise=lambda: scd_loss(student, target, args.tau,
                                            block_size=args.block_size))

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    torch.zeros(1, device=device) @ torch.zeros(1, device=device)  # initialise BLAS / context
    sync()
    return student, impls, sync, device


def _step(student, run, sync) -> float:
    """One forward + backward; its wall time in seconds."""
    student.grad = None
    sync()
    start = time.perf_counter()
    run().backward()
    sync()
    return time.perf_counter() - start


def memory_worker(args) -> None:
    """Peak memory of one forward + backward of ``args.worker``, plus its loss and gradient."""
    import torch

    student, impls, sync, device = _setup(args)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        base = _rss_bytes()
    student.grad = None
    loss = impls[args.worker]()
    loss.backward()
    sync()
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        peak = _rss_bytes() - base
    torch.save(dict(loss=loss.detach().double().cpu(), grad=student.grad.double().cpu(),
                    peak=peak), args.out)


def time_worker(args) -> None:
    """Both implementations in alternation (so both see the same machine load)."""
    import torch

    student, impls, sync, _ = _setup(args)
    times = {name: [] for name in IMPLS}
    for _ in range(args.repeats + 1):  # the first round is a warm-up
        for name in IMPLS:
            times[name].append(_step(student, impls[name], sync))
    torch.save(times, args.out)


def run_worker(args, phase: str, out: str, impl: str = 'reference') -> None:
    """Run one measurement ``phase`` in a fresh interpreter (same flags)."""
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', impl, '--phase', phase,
           '--out', out, '--n', str(args.n), '--batch', str(args.batch), '--dim', str(args.dim),
           '--tau', str(args.tau), '--repeats', str(args.repeats), '--device', args.device,
           '--seed', str(args.seed)]
    if args.block_size is not None:
        cmd += ['--block-size', str(args.block_size)]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    env = dict(os.environ)
    if phase == 'memory':
        env['MALLOC_MMAP_THRESHOLD_'] = '131072'
    subprocess.run(cmd, check=True, env=env)


def _fmt(times) -> str:
    """Run times in seconds, warm-up first."""
    return ' '.join(f'{t:.2f}' for t in times)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.worker:
        (memory_worker if args.phase == 'memory' else time_worker)(args)
        return {}
    import torch

    from refclip_mm.models.losses.scd import auto_block_rows

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for impl in IMPLS:
            out = os.path.join(tmp, f'{impl}_memory.pt')
            run_worker(args, 'memory', out, impl)
            results[impl] = torch.load(out, weights_only=True)
        out = os.path.join(tmp, 'time.pt')
        run_worker(args, 'time', out)
        for impl, times in torch.load(out, weights_only=True).items():
            results[impl].update(times=times, time=statistics.median(times[1:]))
    ref, blk = results['reference'], results['blockwise']
    rel_err = ((blk['loss'] - ref['loss']).abs() / ref['loss'].abs()).item()
    grad_err = ((blk['grad'] - ref['grad']).abs().max() / ref['grad'].abs().max()).item()
    rows = args.block_size or auto_block_rows(args.batch, args.n)
    summary = dict(
        device=args.device, n=args.n, batch=args.batch, dim=args.dim, block_rows=rows,
        full_matrix_mib=args.batch * args.n * args.n * 4 / 2**20,
        reference_peak_mib=ref['peak'] / 2**20, blockwise_peak_mib=blk['peak'] / 2**20,
        reference_time_s=ref['time'], blockwise_time_s=blk['time'],
        memory_ratio=blk['peak'] / max(ref['peak'], 1), time_ratio=blk['time'] / ref['time'],
        best_time_ratio=min(blk['times'][1:]) / min(ref['times'][1:]),
        round_time_ratios=[b / r for b, r in zip(blk['times'][1:], ref['times'][1:])],
        loss_rel_err=rel_err, grad_max_err_rel_to_max=grad_err,
        grad_cosine=torch.nn.functional.cosine_similarity(
            blk['grad'].flatten(), ref['grad'].flatten(), dim=0).item())
    print(f"SCD loss, {args.device} ({args.threads or torch.get_num_threads()} threads): "
          f"B={args.batch} N={args.n} D={args.dim}, "
          f"block rows={rows} (one full N x N fp32 matrix per batch: "
          f"{summary['full_matrix_mib']:.0f} MiB)")
    print(f"  reference  peak {summary['reference_peak_mib']:8.1f} MiB  "
          f"time {ref['time']:.3f} s  (runs: {_fmt(ref['times'])})")
    print(f"  blockwise  peak {summary['blockwise_peak_mib']:8.1f} MiB  "
          f"time {blk['time']:.3f} s  (runs: {_fmt(blk['times'])})")
    print(f"  memory ratio {summary['memory_ratio']:.3f} (target <= 0.25)   "
          f"time ratio {summary['time_ratio']:.3f} (target <= 1.0)")
    print(f"  time ratio of the best runs {summary['best_time_ratio']:.3f}; per round: "
          f"{_fmt(summary['round_time_ratios'])} (rounds alternate, so they share the load)")
    print(f"  loss rel err {rel_err:.2e} (target <= 1e-5)   grad max err / max |grad| "
          f"{grad_err:.2e}   grad cosine {summary['grad_cosine']:.8f}")
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
