"""Train any refclip_mm config (stage 1, stage 2, F-ViT, segmentor) with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--auto-scale-lr]
                          [--max-iters N] [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

The same script is what ``mim train refclip_mm CONFIG`` runs and what
tools/dist_train.sh launches on N processes.
"""
import argparse
import os.path as osp
import sys

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import refclip_mm  # noqa: F401  (registers modules, installs the safe checkpoint loader)
from refclip_mm.apis import configure_training, load_config, train
from refclip_mm.apis.cli import add_run_arguments, apply_run_arguments


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a refclip_mm model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint in the work dir '
                        'when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 with dynamic loss scaling (mmengine\'s '
                        'AmpOptimWrapper) where CUDA is available, otherwise bf16 autocast '
                        '(AutocastOptimWrapper, where the CPU computes bf16 natively)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the total batch (processes x '
                        'train_dataloader.batch_size) over the config\'s '
                        'auto_scale_lr.base_batch_size')
    parser.add_argument('--max-iters', type=int,
                        help='stop after N training iterations, for epoch- and iteration-based '
                        'configs alike (a short run to check a config); validation and the '
                        'checkpoint run once at the end')
    add_run_arguments(parser)
    return apply_run_arguments(parser.parse_args(argv))


def build_config(args):
    """The config with the command line applied (overrides, work dir, short run, AMP, LR
    scaling, resume)."""
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    return configure_training(cfg, resume=args.resume, amp=args.amp, max_iters=args.max_iters,
                              auto_scale_lr=args.auto_scale_lr)


def main(argv=None):
    args = parse_args(argv)
    return train(build_config(args))


if __name__ == '__main__':
    main()
