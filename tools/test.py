"""Evaluate a trained refclip_mm model with the config's test_evaluator.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                         [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

The same script is what ``mim test refclip_mm CONFIG --checkpoint CKPT`` runs.
mmdet's and mmseg's own tools/test.py work too on our detector/segmentor
configs, because those configs import refclip_mm through ``custom_imports``.
"""
import argparse
import os.path as osp
import sys

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import refclip_mm  # noqa: F401  (registers modules, installs the safe checkpoint loader)
from refclip_mm.apis import load_config, test
from refclip_mm.apis.cli import add_run_arguments, apply_run_arguments


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a refclip_mm model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    add_run_arguments(parser)
    return apply_run_arguments(parser.parse_args(argv))


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint!r}')
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    return test(cfg, args.checkpoint, out=args.out)


if __name__ == '__main__':
    main()
