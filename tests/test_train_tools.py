"""tools/train.py, tools/test.py and mim on a tiny config: train, checkpoint, resume, test, bad files.

These run real training (a 3-block CLIP ViT on 64 px synthetic scenes) in
subprocesses, the way a user runs them.
"""
import filecmp
import json
import os
import os.path as osp
import sys

import pytest
import torch

from refclip_mm.utils.checkpoint import load_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'demo', 'fcn_clipvit-tiny_200i_synthetic-64.py')
MIM = osp.join(osp.dirname(sys.executable), 'mim')


def tiny_run_options(data_root, max_iters, checkpoint_interval=2):
    """--cfg-options that shrink the demo config to a few iterations on the test data."""
    options = [f'{loader}.dataset.data_root={data_root}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    return options + [
        f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=1000',
        f'default_hooks.checkpoint.interval={checkpoint_interval}',
        'default_hooks.checkpoint.max_keep_ckpts=10',
        'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2',
        'randomness.seed=0']


def logged_iters(work_dir):
    """Iterations logged to the scalars.json files of every run in ``work_dir``."""
    iters = []
    for run in sorted(os.listdir(work_dir)):
        path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            with open(path) as f:
                iters.append([json.loads(line)['iter'] for line in f if '"loss"' in line])
    return iters


def assert_installed_copy_is_current():
    """mim runs the *installed* refclip_mm; it must match this checkout (``make install``)."""
    import importlib.util
    spec = importlib.util.find_spec('refclip_mm')
    installed = [p for p in sys.path if p.endswith('site-packages')
                 and osp.isdir(osp.join(p, 'refclip_mm'))]
    assert installed, 'refclip_mm is not installed in site-packages: run `make install`'
    pkg = osp.join(installed[0], 'refclip_mm')
    for ours, theirs in [(osp.join(REPO, 'refclip_mm'), pkg),
                         (osp.join(REPO, 'tools'), osp.join(pkg, '.mim', 'tools')),
                         (osp.join(REPO, 'configs'), osp.join(pkg, '.mim', 'configs'))]:
        for root, _, files in os.walk(ours):
            for name in files:
                if name.endswith('.py'):
                    rel = osp.relpath(osp.join(root, name), ours)
                    other = osp.join(theirs, rel)
                    assert osp.isfile(other) and filecmp.cmp(osp.join(root, name), other, False), \
                        f'installed refclip_mm is stale ({rel}): run `make install`'
    assert spec is not None


@pytest.fixture(scope='module')
def mim_run(synthetic_root, tmp_path_factory, run_python):
    """Train 4 iterations with `mim train`, then resume to 6 with tools/train.py --resume."""
    assert_installed_copy_is_current()
    work_dir = str(tmp_path_factory.mktemp('mim_work'))
    first = run_python(['-m', 'mim', 'train', 'refclip_mm', CONFIG, '--gpus', '0',
                        '--work-dir', work_dir, '--cfg-options',
                        *tiny_run_options(synthetic_root, 4)], cwd=work_dir)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-4000:]
    iter4 = load_checkpoint_file(osp.join(work_dir, 'iter_4.pth'))
    second = run_python([osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir', work_dir,
                         '--resume', '--cfg-options', *tiny_run_options(synthetic_root, 6)])
    assert second.returncode == 0, second.stderr[-4000:]
    return dict(work_dir=work_dir, iter4=iter4, second=second)


def test_mim_train_writes_checkpoints(mim_run):
    work_dir = mim_run['work_dir']
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    ckpt = mim_run['iter4']
    assert ckpt['meta']['iter'] == 4
    assert {'state_dict', 'optimizer', 'param_schedulers', 'message_hub'} <= set(ckpt)
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])


def test_resume_continues_from_the_saved_iteration(mim_run):
    work_dir = mim_run['work_dir']
    first_run, second_run = logged_iters(work_dir)
    assert first_run == [1, 2, 3, 4]
    assert second_run == [5, 6]  # not restarted from 1
    final = load_checkpoint_file(osp.join(work_dir, 'iter_6.pth'))
    assert final['meta']['iter'] == 6
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_6.pth')
    # the optimizer state was restored, not re-initialised: Adam's step counter keeps counting
    steps = [s['step'] for s in final['optimizer']['state'].values()]
    assert all(float(s) == 6 for s in steps)
    changed = [k for k, v in final['state_dict'].items()
               if not torch.equal(v, mim_run['iter4']['state_dict'][k])]
    assert changed, 'the resumed run did not train'


def test_mim_test_evaluates_the_checkpoint(mim_run, synthetic_root, run_python):
    work_dir = mim_run['work_dir']
    result = run_python(['-m', 'mim', 'test', 'refclip_mm', CONFIG, '--checkpoint',
                         osp.join(work_dir, 'iter_6.pth'), '--gpus', '0', '--work-dir',
                         osp.join(work_dir, 'test'), '--cfg-options',
                         *tiny_run_options(synthetic_root, 6)], cwd=work_dir)
    assert result.returncode == 0, result.stderr[-4000:]
    assert 'mIoU' in result.stdout + result.stderr


def test_resume_from_a_corrupt_checkpoint_names_the_file(mim_run, synthetic_root, tmp_path,
                                                         run_python):
    good = osp.join(mim_run['work_dir'], 'iter_4.pth')
    broken = tmp_path / 'iter_4_truncated.pth'
    with open(good, 'rb') as f:
        broken.write_bytes(f.read()[:4096])
    result = run_python([osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir',
                         str(tmp_path / 'w'), '--resume', str(broken), '--cfg-options',
                         *tiny_run_options(synthetic_root, 6)])
    assert result.returncode != 0
    assert 'iter_4_truncated.pth' in result.stderr and 'not a readable checkpoint' in result.stderr


def test_resume_from_another_architecture_names_the_keys(mim_run, synthetic_root, tmp_path,
                                                         run_python):
    ckpt = load_checkpoint_file(osp.join(mim_run['work_dir'], 'iter_4.pth'))
    key = next(k for k in ckpt['state_dict'] if k.endswith('conv_seg.weight'))
    ckpt['state_dict'][key] = torch.zeros(3, *ckpt['state_dict'][key].shape[1:])
    other = tmp_path / 'other_arch.pth'
    torch.save(ckpt, other)
    result = run_python([osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir',
                         str(tmp_path / 'w'), '--resume', str(other), '--cfg-options',
                         *tiny_run_options(synthetic_root, 6)])
    assert result.returncode != 0
    assert key in result.stderr and 'shape mismatch' in result.stderr


def test_dataloader_workers_fit_the_cpus(tmp_path, monkeypatch, capsys):
    """A config asking for more workers than CPUs runs with one per CPU, saying so; a value
    given on the command line is kept."""
    from mmengine.config import Config

    from refclip_mm.apis import load_config
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1}, raising=False)
    path = tmp_path / 'cfg.py'
    path.write_text('train_dataloader = dict(num_workers=8, batch_size=2)\n'
                    'val_dataloader = dict(num_workers=2)\n'
                    'test_dataloader = dict(num_workers=4)\n')
    cfg = load_config(str(path), work_dir=str(tmp_path))
    assert (cfg.train_dataloader.num_workers, cfg.val_dataloader.num_workers,
            cfg.test_dataloader.num_workers) == (2, 2, 2)
    out = capsys.readouterr().out
    assert 'train_dataloader.num_workers: 8 -> 2' in out and 'val_dataloader' not in out
    kept = load_config(str(path), {'test_dataloader.num_workers': 6}, work_dir=str(tmp_path))
    assert kept.test_dataloader.num_workers == 6 and kept.train_dataloader.num_workers == 2
    assert isinstance(kept, Config)
