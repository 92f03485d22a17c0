"""Which F-ViT schedule lets the ToyWorld detector learn? (docs/toyworld.md, "The second world", "Results").

The F-ViT's schedule is chosen on the *stage-0 CLIP tower only*: this script trains it under
other schedules and reports base / novel AP50 (OVCocoMetric), appending one JSON line per variant
to ``--out``. Base AP50 >= 30% is the criterion (issue of ToyWorld 2); the novel column is printed
but must not choose the schedule, and no RLA tower is trained here. The registered schedule
(300 steps at 192 px) gives 46.0% base AP50 on seed 0. The rows of
``docs/results/toyworld_fvit_schedules_scrambled-rois.jsonl`` (1-5%) were measured while the
backbone handed the RoI head channels-last maps that mmcv's RoIAlign misread
(docs/results/toyworld_history.md, "The second world's seed 0").

Variants (``--variants``, names below): steps, learning rate and image size; everything else is
``configs/toyworld/fvit-faster-rcnn_clip-toy_1xb8-600i_scenes-192.py``. Data, text embeddings
and the tower are those of a ToyWorld work dir and results dir (``python tools/toyworld.py``
writes them). The config is the pipeline's own (``refclip_mm.toyworld.pipeline.fvit_config``).

    python benchmarks/toyworld_fvit_schedules.py --work-dir work_dirs/toyworld \\
        --results-dir docs/results/toyworld --out docs/results/toyworld_fvit_schedules.jsonl \\
        --variants registered lr1e-4 native-64px-1200 1200
"""
import argparse
import json
import os
import os.path as osp
import time

# name -> (steps, learning rate, image size)
VARIANTS = {
    'registered': (300, 1e-3, 192),
    'lr1e-4': (300, 1e-4, 192),
    '1200': (1200, 1e-3, 192),
    'native-64px-1200': (1200, 1e-3, 64),
    'native-64px-2400': (2400, 1e-3, 64),
    '128px-1200': (1200, 1e-3, 128),
}


def run_variant(name, work_dir, results_dir, seed):
    """Train and test the F-ViT of variant ``name`` on the stage-0 CLIP; its row of results."""
    from refclip_mm.apis import ov_ap50, train_then_test
    from refclip_mm.toyworld.pipeline import fvit_config
    steps, lr, size = VARIANTS[name]
    work = osp.join(work_dir, 'fvit_schedules', f'{name}_seed{seed}')
    cfg = fvit_config(osp.join(results_dir, 'clip_toy.pth'), osp.join(work_dir, 'text_things.pth'),
                      osp.join(work_dir, 'data'), work, seed, steps, lr=lr, image_size=size)
    start = time.time()
    metrics = train_then_test(cfg, log_file=osp.join(work, 'console.log'))
    ap = {k: round(v * 100, 2) for k, v in ov_ap50(metrics).items()}
    return dict(variant=name, steps=steps, lr=lr, image_size=size, seed=seed,
                seconds=round(time.time() - start, 1), **ap)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/toyworld')
    parser.add_argument('--results-dir', default='docs/results/toyworld')
    parser.add_argument('--out', default='docs/results/toyworld_fvit_schedules.jsonl')
    parser.add_argument('--variants', nargs='+', default=['registered', 'lr1e-4'],
                        choices=sorted(VARIANTS))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    for path in (osp.join(args.work_dir, 'data', 'annotations', 'instances_val.json'),
                 osp.join(args.work_dir, 'text_things.pth'),
                 osp.join(args.results_dir, 'clip_toy.pth')):
        if not osp.isfile(path):
            raise SystemExit(f'{path} not found: run python tools/toyworld.py --work-dir '
                             f'{args.work_dir} --results-dir {args.results_dir} first')
    done = set()
    if osp.isfile(args.out):
        with open(args.out) as f:
            done = {(r['variant'], r['seed']) for r in map(json.loads, f)}
    for name in args.variants:
        if (name, args.seed) in done:
            print(f'{name}: in {args.out} already')
            continue
        row = run_variant(name, args.work_dir, args.results_dir, args.seed)
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'a') as f:
            f.write(json.dumps(row) + '\n')
        print(json.dumps(row), flush=True)


if __name__ == '__main__':
    main()
