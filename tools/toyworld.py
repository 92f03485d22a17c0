"""ToyWorld: run the whole method on a generated world and measure its claims (docs/toyworld.md).

    python tools/toyworld.py [--quick] [--work-dir work_dirs/toyworld] [--seeds 0 1 2]

The pipeline is refclip_mm.toyworld.run_toyworld: data, stage 0 (a toy CLIP pre-trained on
generated scene-caption pairs), per seed the Refiner and the stage-2 methods, then every
tower's measurements, the table (table.md, results.json) and a panel (panel.png). Each step
is skipped when its output exists, so an interrupted run continues where it stopped.
--quick runs one seed with shorter schedules (the demo's variant, <= 15 minutes on 2 cores).
"""
import argparse
import os.path as osp
import sys

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.toyworld import run_toyworld
from refclip_mm.toyworld.ablation import REFINER_VARIANTS, run_refiner_ablation
from refclip_mm.toyworld.worlds import WORLDS, get_world

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--quick', action='store_true', help='the <= 15 minute variant')
    parser.add_argument('--world', type=int, choices=(2, 3), default=2,
                        help='the world (docs/toyworld.md): 2, scenes drawn at 64 px; 3, drawn '
                        'natively at 192 px (default: 2)')
    parser.add_argument('--premises', action='store_true',
                        help='stop after the world\'s premise checks on the stage-0 CLIP '
                        '(world 3)')
    parser.add_argument('--work-dir', help='default: work_dirs/toyworld[-quick]')
    parser.add_argument('--results-dir',
                        help='keep the run\'s results here (the stage-0 CLIP, every measurement, '
                        'the tables); a run continues from it alone (default: the work dir)')
    parser.add_argument('--seeds', type=int, nargs='+', help='override the protocol\'s seeds')
    parser.add_argument('--methods', nargs='+', default=None,
                        choices=sorted({m for world in WORLDS.values() for m in world.methods}),
                        help='stage-2 methods (default: every method of the world)')
    parser.add_argument('--no-fvit', action='store_true', help='skip the F-ViT detectors')
    parser.add_argument('--precision-check', type=int, nargs='*', default=None, metavar='SEED',
                        help='seeds whose CLIPSelf / R-SC-RLA are also trained in fp32 '
                        '(default: the protocol\'s; none given: no check)')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: all)')
    parser.add_argument('--iters-scale', type=float, default=1.0,
                        help='multiply every schedule (tests use a small value)')
    parser.add_argument('--images-scale', type=float, default=1.0,
                        help='multiply the dataset sizes (tests use a small value)')
    parser.add_argument('--refiner-ablation', nargs='*', default=None, metavar='VARIANT',
                        choices=list(REFINER_VARIANTS),
                        help='instead of the run: the stage-1 ablation on its results dir, '
                        'for --seeds (default 0); no VARIANT: all of them')
    parser.add_argument('--verbose', action='store_true',
                        help='stream the training logs (default: console.log in each work dir)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    suffix = '-quick' if args.quick else ''
    work_dir = args.work_dir or osp.join(REPO, 'work_dirs', get_world(args.world).name + suffix)
    if args.refiner_ablation is not None:
        return run_refiner_ablation(work_dir, args.refiner_ablation, seeds=args.seeds or (0, ),
                                    results_dir=args.results_dir, verbose=args.verbose)
    return run_toyworld(work_dir, quick=args.quick, seeds=args.seeds, methods=args.methods,
                        fvit_detectors=not args.no_fvit, precision_check=args.precision_check,
                        iters_scale=args.iters_scale,
                        images_scale=args.images_scale, verbose=args.verbose,
                        results_dir=args.results_dir, world=args.world,
                        premises_only=args.premises)


if __name__ == '__main__':
    main()
