"""Train any refclip_mm config (stage 1, stage 2, F-ViT, segmentor) with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--max-iters N]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

The same script is what ``mim train refclip_mm CONFIG`` runs and what
tools/dist_train.sh launches on N processes.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import refclip_mm  # noqa: E402,F401  (registers modules, installs the safe checkpoint loader)
from refclip_mm.utils.distributed import prepare_cpu_distributed  # noqa: E402
from refclip_mm.utils.short_run import limit_train_iters  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a refclip_mm model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint in the work dir '
                        'when no path is given')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--max-iters', type=int,
                        help='stop after N training iterations, for epoch- and iteration-based '
                        'configs alike (a short run to check a config); validation and the '
                        'checkpoint run once at the end')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. '
                        'train_dataloader.dataset.data_root=data/coco/')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle any object in checkpoint files (only for files you trust)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.trust_checkpoint:
        os.environ['REFCLIP_TRUST_CHECKPOINTS'] = '1'
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args) -> Config:
    """Load the config and apply the command-line overrides."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.max_iters is not None:
        limit_train_iters(cfg, args.max_iters)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print('AMP is already enabled in the config.')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume is not None and not any(
            h.get('type') in ('StrictResumeHook', 'refclip_mm.StrictResumeHook')
            for h in cfg.get('custom_hooks', [])):
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='refclip_mm.StrictResumeHook')]
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume!r}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
