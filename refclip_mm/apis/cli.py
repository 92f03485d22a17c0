"""Command-line arguments shared by the tools (tools/train.py and tools/test.py; input files)."""
import argparse
import os

from mmengine.config import DictAction


def add_run_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options every run takes: ``--work-dir``, ``--cfg-options``, ``--launcher``,
    ``--trust-checkpoint`` and ``--local-rank``."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. '
                        'train_dataloader.dataset.data_root=data/coco/')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle any object in checkpoint files (only for files you trust)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def apply_run_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Environment the shared arguments ask for (trusted checkpoints, the local rank)."""
    if args.trust_checkpoint:
        os.environ['REFCLIP_TRUST_CHECKPOINTS'] = '1'
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def given_or_default_file(parser: argparse.ArgumentParser, given, default: str):
    """An input file option: the file given (which must exist: else ``parser.error`` names it),
    else ``default`` when it exists, else ``None``."""
    if given is not None:
        if not os.path.isfile(given):
            parser.error(f'no such file: {given}')
        return given
    return default if os.path.isfile(default) else None
