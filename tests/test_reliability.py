"""Faults: SIGKILL + --resume, kills during checkpoint writes, NaN losses, malicious checkpoints."""
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from refclip_mm.utils.checkpoint import CheckpointError, load_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STAGE1 = osp.join(REPO, 'configs', 'refiner', 'refiner_clip-tiny_1xb4-40i_synthetic-64.py')
HELPERS = osp.join(REPO, 'tests', 'helpers')


def stage1_options(data_root, clip_file, max_iters):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
            f'model.pretrained={clip_file}', f'train_cfg.max_iters={max_iters}',
            'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=10',
            'train_dataloader.batch_size=2']


def test_sigkill_then_resume_ends_with_the_same_weights(synthetic_root, tiny_clip_file, tmp_path, run_python):
    """Deterministic stage-1 run: killed at iteration 5, resumed from iter_4 -> identical iter_8."""
    killing = tmp_path / 'killing.py'
    killing.write_text(f"_base_ = [{STAGE1!r}]\ncustom_imports = dict(imports=['kill_hook'])\n"
                       "custom_hooks = [dict(type='KillAtIterationHook', iteration=5)]\n")
    env = dict(PYTHONPATH=HELPERS)
    train = osp.join(REPO, 'tools', 'train.py')
    options = stage1_options(synthetic_root, tiny_clip_file, 8)
    killed_dir, clean_dir = str(tmp_path / 'killed'), str(tmp_path / 'clean')
    killed = run_python([train, str(killing), '--work-dir', killed_dir] + options, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert osp.isfile(osp.join(killed_dir, 'iter_4.pth'))
    assert not osp.exists(osp.join(killed_dir, 'iter_6.pth'))
    resumed = run_python([train, STAGE1, '--work-dir', killed_dir, '--resume'] + options)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 4' in resumed.stdout + resumed.stderr
    clean = run_python([train, STAGE1, '--work-dir', clean_dir] + options)
    assert clean.returncode == 0, clean.stderr[-3000:]
    a = load_checkpoint_file(osp.join(killed_dir, 'iter_8.pth'))['state_dict']
    b = load_checkpoint_file(osp.join(clean_dir, 'iter_8.pth'))['state_dict']
    assert set(a) == set(b)
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst <= 1e-6, worst  # tolerance: 1e-6 absolute (CPU, same thread count)


WRITER = textwrap.dedent('''
    import sys, torch
    import refclip_mm  # installs the atomic local backend
    from mmengine.runner.checkpoint import save_checkpoint
    path = sys.argv[1]
    step = 0
    while True:  # rewrite the same checkpoint until killed
        step += 1
        save_checkpoint(dict(step=step, w=torch.full((2_000_000, ), float(step))), path)
        print(step, flush=True)
''')


def test_a_kill_during_checkpoint_writes_never_leaves_a_truncated_file(tmp_path):
    script = tmp_path / 'writer.py'
    script.write_text(WRITER)
    path = tmp_path / 'latest.pth'
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True,
                                env=dict(os.environ, PYTHONPATH=REPO))
        try:
            line = ''
            while not line.strip().isdigit():  # wait for one finished write (skip log lines)
                line = proc.stdout.readline()
                assert line, 'the writer exited before writing a checkpoint'
            time.sleep(delay)  # then kill it at some point of a later write
        finally:
            proc.kill()
            proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        ckpt = load_checkpoint_file(str(path))  # complete, whatever moment the kill hit
        assert torch.equal(ckpt['w'], torch.full((2_000_000, ), float(ckpt['step'])))


def test_nan_loss_stops_before_the_update_and_names_the_term():
    from mmengine.logging import MessageHub
    from mmengine.optim import OptimWrapper

    from refclip_mm.clip import TINY_OPENAI_ARCH
    from refclip_mm.models.trainers import RefinerTrainer
    from refclip_mm.models.trainers.finite import NonFiniteLossError
    torch.manual_seed(0)
    model = RefinerTrainer(clip_model=TINY_OPENAI_ARCH, grid_size=4,
                           refiner=dict(type='Refiner', depth=1, num_heads=4))
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    MessageHub.get_current_instance().update_info('iter', 17)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.full((2, 3, 64, 64), 100, dtype=torch.uint8)
    batch = dict(inputs=list(images), data_samples=None)
    with torch.no_grad():
        model.refiner.out.bias.fill_(float('nan'))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match=r'loss_dense is nan at iteration 17'):
        model.train_step(batch, wrapper)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) or torch.isnan(before[k]).any() for k in before)
    assert not wrapper.optimizer.state  # no optimizer step happened


def test_a_malicious_pickle_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / 'pwned'

    class Payload:
        def __reduce__(self):
            return os.system, (f'touch {marker}', )
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=dict(w=torch.zeros(1)), payload=Payload()), path)
    with pytest.raises(CheckpointError, match=r'outside the allow-list .*system'):
        load_checkpoint_file(str(path))
    from mmengine.runner.checkpoint import _load_checkpoint  # the Runner's path
    with pytest.raises(CheckpointError, match='trust-checkpoint'):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


class Harmless:
    """A custom class in a checkpoint: refused by default, loaded only when trusted."""


def test_the_trust_flag_is_explicit(tmp_path):
    path = tmp_path / 'metadata.pth'
    torch.save(dict(extra=Harmless()), path)
    with pytest.raises(CheckpointError):
        load_checkpoint_file(str(path))
    assert type(load_checkpoint_file(str(path), trusted=True)['extra']).__name__ == 'Harmless'


def test_a_json_write_that_fails_keeps_the_old_file_and_leaves_no_part_file(tmp_path):
    import json

    from refclip_mm.utils.atomic import atomic_write_json
    path = tmp_path / 'sub' / 'split.json'
    atomic_write_json(str(path), dict(images=[1, 2]))  # creates the missing folder
    with pytest.raises(TypeError):
        atomic_write_json(str(path), dict(images=[object()]))  # not serialisable
    assert json.loads(path.read_text()) == dict(images=[1, 2])
    assert os.listdir(path.parent) == ['split.json']
