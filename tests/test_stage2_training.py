"""Stage 2 end to end: R-SC-RLA through the Runner, the SCD hook, resume, conversion, 2-process DDP."""
import os
import os.path as osp
import socket

import factories
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from refclip_mm.utils.checkpoint import load_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'rla', 'clipself-patches-rsc_clip-tiny_1xb4-20i_synthetic-64.py')


@pytest.fixture(scope='module')
def inputs(tiny_clip_file, tmp_path_factory):
    """Initial tiny CLIP weights and a (non-identity) Refiner file for it."""
    refiner_file = str(tmp_path_factory.mktemp('stage2_inputs') / 'refiner.pth')
    factories.refiner_file(refiner_file, dim=32, depth=2, num_heads=4, mlp_ratio=2.0,
                           out_std=0.05, seed=0)
    return dict(clip=tiny_clip_file, refiner=refiner_file)


def options(data_root, inputs, max_iters, work_dir, batch_size=4, max_split=3):
    """--cfg-options turning the tiny config into a short run on the test data."""
    return [f'train_dataloader.dataset.data_root={data_root}',
            f'model.pretrained={inputs["clip"]}', f'custom_hooks.0.refiner_file={inputs["refiner"]}',
            f'train_cfg.max_iters={max_iters}', f'train_dataloader.batch_size={batch_size}',
            f'train_dataloader.dataset.pipeline.2.max_split={max_split}',
            'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
            f'work_dir={work_dir}']


def tiny_cfg(data_root, inputs, work_dir, max_iters, resume=False):
    cfg = Config.fromfile(CONFIG)
    for option in options(data_root, inputs, max_iters, work_dir):
        key, value = option.split('=', 1)
        cfg.merge_from_dict({key: int(value) if value.isdigit() else value})
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=6)]
    cfg.resume = resume
    cfg.experiment_name = f'stage2_{max_iters}_{int(resume)}'
    return cfg


@pytest.fixture(scope='module')
def stage2_run(synthetic_root, inputs, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('stage2'))
    runner = Runner.from_cfg(tiny_cfg(synthetic_root, inputs, work_dir, 4))
    runner.train()
    initial = runner.model.initial_tower.checksum()
    resumed = Runner.from_cfg(tiny_cfg(synthetic_root, inputs, work_dir, 6, resume=True))
    resumed.train()
    return dict(work_dir=work_dir, runner=resumed, initial=initial)


@pytest.fixture(scope='module')
def scd_switch_run(synthetic_root, inputs, tmp_path_factory):
    """10 cheap iterations (2 images, one grid box each): SCD (start_ratio 0.1) is off at
    iteration 0 and on from iteration 1; scd_agreement is asked for at every iteration."""
    work_dir = str(tmp_path_factory.mktemp('stage2_scd_switch'))
    cfg = tiny_cfg(synthetic_root, inputs, work_dir, 10)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.pipeline[2].max_split = 1
    cfg.custom_hooks[0].agreement_interval = 1
    cfg.default_hooks.checkpoint.interval = 10
    cfg.experiment_name = 'stage2_scd_switch'
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    history = {key: hub.get_scalar(f'train/{key}').data[0].tolist()
               for key in ('loss_scd', 'scd_weight', 'scd_agreement', 'loss_clipself')}
    hook = next(h for h in runner.hooks if type(h).__name__ == 'SCDDistillHook')
    return dict(runner=runner, hook=hook, history=history)


def test_scd_switches_on_after_ten_percent_and_uses_the_refined_teacher(scd_switch_run):
    hook, history = scd_switch_run['hook'], scd_switch_run['history']
    assert len(history['loss_clipself']) == 10  # one value per iteration
    # 10% of 10 iterations: off at iteration 0 (the term exactly 0, weight 0, no teacher
    # forward, so no scd_agreement), on from iteration 1 (a positive term, weight 0.4,
    # scd_agreement at every iteration)
    assert history['loss_scd'][0] == 0.0, history['loss_scd']
    assert all(value > 0.0 for value in history['loss_scd'][1:]), history['loss_scd']
    assert history['scd_weight'] == pytest.approx([0.0] + [0.4] * 9)
    assert len(history['scd_agreement']) == 9
    assert hook.start_ratio == 0.1 and hook.start_iter == 1
    assert all(-1.0 <= value <= 1.0 for value in history['scd_agreement'])
    assert hook.term.teacher.refiner is not None  # R-SC-RLA
    # the teacher's tower is the model's initial tower: shared, not a second copy
    assert hook.term.teacher.tower is scd_switch_run['runner'].model.initial_tower


def test_schedule_keeps_scd_off_early():
    from refclip_mm.hooks import SCDDistillHook
    hook = SCDDistillHook(start_ratio=0.1)
    assert hook.weight_at(9, max_iters=100) == 0.0
    assert hook.weight_at(10, max_iters=100) == 0.4


def test_resume_is_bit_identical_to_an_uninterrupted_run(synthetic_root, inputs, tmp_path):
    """4 iterations in one go vs 2, then resumed to 4 with another number of data workers: the
    same weights, bit for bit (the grid boxes are drawn by the model from (seed, rank,
    iteration), not by the data pipeline's workers)."""
    def run(work_dir, max_iters, resume=False, workers=0):
        cfg = tiny_cfg(synthetic_root, inputs, str(work_dir), max_iters, resume=resume)
        cfg.train_dataloader.batch_size = 2
        cfg.train_dataloader.num_workers = workers
        cfg.default_hooks.logger.interval = 10
        cfg.experiment_name = f'{cfg.experiment_name}_{tmp_path.name}_{work_dir.name}'
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner.model.state_dict()

    whole = run(tmp_path / 'whole', 4)
    run(tmp_path / 'split', 2)
    resumed = run(tmp_path / 'split', 4, resume=True, workers=2)
    assert whole.keys() == resumed.keys()
    for key, value in whole.items():
        assert torch.equal(value, resumed[key]), key
    initial = load_checkpoint_file(inputs['clip'])
    assert any(not torch.equal(v, initial[k.replace('student.', '')]) for k, v in whole.items()
               if k.replace('student.', '') in initial)  # it trained


def test_teacher_is_frozen_and_not_in_the_checkpoint(stage2_run):
    ckpt = load_checkpoint_file(osp.join(stage2_run['work_dir'], 'iter_4.pth'))
    assert all(k.startswith('student.') for k in ckpt['state_dict'])
    model = stage2_run['runner'].model
    assert model.initial_tower.checksum() == stage2_run['initial']
    # the student moved away from the initial weights, the teacher did not
    student = sum(p.detach().double().abs().sum() for p in model.student.parameters())
    assert float(student) != stage2_run['initial']


def test_resume_continues_and_keeps_the_schedule(stage2_run):
    runner = stage2_run['runner']
    assert runner.iter == 6
    final = load_checkpoint_file(osp.join(stage2_run['work_dir'], 'iter_6.pth'))
    assert {float(s['step']) for s in final['optimizer']['state'].values()} == {6.0}


def test_convert_for_clipvit_and_open_clip_with_averaging(stage2_run, inputs, tmp_path):
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from convert_checkpoint import main as convert

    from refclip_mm.clip import build_clip
    from refclip_mm.models.backbones import CLIPViT
    stage2 = osp.join(stage2_run['work_dir'], 'iter_6.pth')
    tower_file = str(tmp_path / 'tower.pth')
    convert([stage2, tower_file])
    arch = Config.fromfile(CONFIG).tiny_clip.to_dict()
    backbone = CLIPViT(clip_model=arch, pretrained=tower_file, out_indices=(1, ))
    student = stage2_run['runner'].model.student.state_dict()
    for key, value in backbone.tower.state_dict().items():
        torch.testing.assert_close(value, student[key])
    averaged = str(tmp_path / 'open_clip.pth')
    convert([stage2, averaged, '--format', 'open_clip', '--initial', inputs['clip'],
             '--alpha', '0.7'])
    clip = build_clip(arch, pretrained=averaged)
    initial = build_clip(arch, pretrained=inputs['clip'])
    key = 'visual.transformer.resblocks.0.mlp.c_fc.weight'
    expected = 0.7 * student[key] + 0.3 * initial.image.state_dict()[key]
    torch.testing.assert_close(clip.image.state_dict()[key], expected)
    text_key = 'text.transformer.resblocks.0.mlp.c_fc.weight'
    torch.testing.assert_close(clip.text.state_dict()[text_key],
                               initial.text.state_dict()[text_key])


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_ddp_matches_one_process(synthetic_root, inputs, tmp_path, run_python):
    """gloo on CPU: both ranks stay identical, and 2 x 2 images match 1 x 4 images."""
    env = dict(PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    config = tmp_path / 'ddp_config.py'  # the tiny R-SC-RLA config + a rank check every iteration
    config.write_text(f"_base_ = [{CONFIG!r}]\ncustom_hooks = [\n"
                      f"    dict(type='SCDDistillHook', refiner_file={inputs['refiner']!r}, grid_size=4),\n"
                      "    dict(type='RankConsistencyHook', interval=1)]\n")
    common = ['--cfg-options', 'default_hooks.checkpoint.interval=3']
    ddp_dir, single_dir = str(tmp_path / 'ddp'), str(tmp_path / 'single')
    ddp = run_python(['-m', 'torch.distributed.run', '--nproc_per_node=2',
                      f'--master_port={free_port()}', osp.join(REPO, 'tools', 'train.py'), str(config),
                      '--launcher', 'pytorch'] + common
                     + options(synthetic_root, inputs, 3, ddp_dir, batch_size=2, max_split=1),
                     env=env)
    assert ddp.returncode == 0, ddp.stderr[-4000:]
    log = open(next(osp.join(root, f) for root, _, files in os.walk(ddp_dir)
                    for f in files if f.endswith('.log'))).read()
    assert 'all 2 ranks agree at iteration 3' in log
    single = run_python([osp.join(REPO, 'tools', 'train.py'), str(config)] + common
                        + options(synthetic_root, inputs, 3, single_dir, batch_size=4,
                                  max_split=1), env=env)
    assert single.returncode == 0, single.stderr[-4000:]
    a = load_checkpoint_file(osp.join(ddp_dir, 'iter_3.pth'))['state_dict']
    b = load_checkpoint_file(osp.join(single_dir, 'iter_3.pth'))['state_dict']
    initial = load_checkpoint_file(inputs['clip'])
    moved = max((a[k] - b[k]).abs().max().item() for k in a)
    assert moved < 1e-5, moved
    assert any(not torch.equal(a[k], initial[k.replace('student.', '')]) for k in a
               if k.replace('student.', '') in initial)
