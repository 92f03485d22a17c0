"""The main job on the embedded default: generated data, a small CLIP, train, test, summary.

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/demo] [--iters N]

Today the demo trains and evaluates the tiny segmentation config
``configs/demo/fcn_clipvit-tiny_200i_synthetic-64.py``: a randomly initialised
2-block CLIP ViT (``refclip_mm.clip.tiny``) as an mmseg backbone, on
generated synthetic scenes. Point it at real data / weights by editing that
config (``data_root``, ``model.backbone.model_name`` and ``pretrained``).
"""
import argparse
import os.path as osp
import sys
import time

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.datasets.synthetic import dataset_is_complete, write_dataset  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(REPO, 'configs', 'demo', 'fcn_clipvit-tiny_200i_synthetic-64.py')


def banner(text):
    print(f'\n=== {text} ===', flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(REPO, 'data', 'demo'))
    parser.add_argument('--iters', type=int, default=None, help='override the training length')
    args = parser.parse_args(argv)

    import train as train_tool  # tools/ is on sys.path when this file runs as a script
    import test as test_tool

    start = time.time()
    banner('1/3 data: synthetic scenes')
    if dataset_is_complete(args.data_root, ('train', 'val')):
        print(f'using the existing dataset in {args.data_root}')
    else:
        summary = write_dataset(args.data_root, dict(train=64, val=16), seed=0)
        print(f'wrote {args.data_root}: {summary}')

    overrides = [f'data_root={args.data_root}',
                 f'train_dataloader.dataset.data_root={args.data_root}',
                 f'val_dataloader.dataset.data_root={args.data_root}',
                 f'test_dataloader.dataset.data_root={args.data_root}']
    if args.iters:
        overrides.append(f'train_cfg.max_iters={args.iters}')
    banner('2/3 training (tools/train.py)')
    train_tool.main([DEMO_CONFIG, '--work-dir', args.work_dir, '--cfg-options', *overrides])

    banner('3/3 testing (tools/test.py)')
    with open(osp.join(args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    metrics = test_tool.main([DEMO_CONFIG, checkpoint, '--work-dir', args.work_dir,
                              '--cfg-options', *overrides])

    banner('summary')
    print('This demo uses a small randomly initialised CLIP on generated scenes: its numbers show')
    print('that the pipeline runs, not what a real CLIP reaches (see docs/getting_started.md).')
    print(f'{"data":<12} {args.data_root}')
    print(f'{"checkpoint":<12} {checkpoint}')
    for key, value in sorted(metrics.items()):
        print(f'{key:<12} {value:.2f}' if isinstance(value, float) else f'{key:<12} {value}')
    print(f'{"wall time":<12} {time.time() - start:.0f} s')
    return metrics


if __name__ == '__main__':
    main()
