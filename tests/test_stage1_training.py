"""Stage 1 end to end through mmengine's Runner: train, save, resume, export, RefinerBackbone."""
import os.path as osp

import factories
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from refclip_mm.utils.checkpoint import load_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'refiner', 'refiner_clip-tiny_1xb4-40i_synthetic-64.py')


def tiny_cfg(data_root, work_dir, max_iters, resume=False):
    cfg = Config.fromfile(CONFIG)
    cfg.model.pretrained = osp.join(str(work_dir), 'tiny_clip.pth')
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_cfg.max_iters = max_iters
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=6, by_epoch=False, begin=0, end=6)]
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.resume = resume
    cfg.experiment_name = f'stage1_{max_iters}_{int(resume)}'
    return cfg


@pytest.fixture(scope='module')
def stage1_run(synthetic_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('stage1')
    factories.tiny_clip_file(work_dir / 'tiny_clip.pth')
    runner = Runner.from_cfg(tiny_cfg(synthetic_root, work_dir, 4))
    clip_before = runner.model.tower.checksum()
    runner.train()
    clip_after_first = runner.model.tower.checksum()
    resumed = Runner.from_cfg(tiny_cfg(synthetic_root, work_dir, 6, resume=True))
    resumed.train()
    return dict(work_dir=str(work_dir), runner=resumed, clip=(clip_before, clip_after_first))


def test_checkpoint_holds_only_the_refiner(stage1_run):
    ckpt = load_checkpoint_file(osp.join(stage1_run['work_dir'], 'iter_4.pth'))
    keys = list(ckpt['state_dict'])
    assert keys and all(k.startswith('refiner.') for k in keys)
    assert ckpt['meta']['iter'] == 4
    before, after = stage1_run['clip']
    assert before == after  # the frozen CLIP never changes


def test_resume_continues_at_iteration_four(stage1_run):
    runner = stage1_run['runner']
    assert runner.iter == 6
    final = load_checkpoint_file(osp.join(stage1_run['work_dir'], 'iter_6.pth'))
    steps = {float(s['step']) for s in final['optimizer']['state'].values()}
    assert steps == {6.0}
    logged = runner.message_hub.get_scalar('train/loss_dense')
    assert len(logged.data[0]) >= 1 and torch.isfinite(torch.tensor(logged.current()))


def trainer_cfg_pretrained(stage1_run):
    return osp.join(stage1_run['work_dir'], 'tiny_clip.pth')


def test_exported_refiner_loads_into_refiner_backbone(stage1_run, tmp_path):
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from export_refiner import main as export_main
    out = tmp_path / 'refiner.pth'
    meta = export_main([osp.join(stage1_run['work_dir'], 'iter_6.pth'), str(out)])
    assert meta['refiner_cfg']['depth'] == 2 and meta['refiner_cfg']['num_heads'] == 4
    trainer = stage1_run['runner'].model
    from mmengine.registry import init_default_scope
    for scope in ('mmdet', 'mmseg'):
        init_default_scope(scope)
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        backbone = registry.build(dict(
            type='RefinerBackbone', clip_model=Config.fromfile(CONFIG).tiny_clip.to_dict(),
            pretrained=trainer_cfg_pretrained(stage1_run), refiner_file=str(out),
            out_indices=(1, )))
        backbone.eval()
        images = torch.randn(2, 3, 64, 64)
        *features, refined = backbone(images)
        assert features[0].shape == (2, 64, 8, 8)
        torch.testing.assert_close(refined, trainer.extract_dense(images))
        assert not any(p.requires_grad for p in backbone.parameters())


def test_refiner_for_another_tower_is_rejected(stage1_run, tmp_path):
    from refclip_mm.models.backbones import RefinerBackbone
    other = Config.fromfile(CONFIG).tiny_clip.to_dict()
    other['embed_dim'] = 48
    with pytest.raises(ValueError, match='trained for another tower'):
        RefinerBackbone(clip_model=other, out_indices=(1, ),
                        refiner_file=osp.join(stage1_run['work_dir'], 'iter_6.pth'))


def test_a_width_space_refiner_runs_in_the_backbone_and_the_scd_teacher(stage1_run, tmp_path):
    """token_space='width': RefinerBackbone and SCDDistillHook refine, then project."""
    from refclip_mm.hooks import SCDDistillHook
    from refclip_mm.models.backbones import RefinerBackbone
    from refclip_mm.models.trainers import RefinerTrainer
    arch = Config.fromfile(CONFIG).tiny_clip.to_dict()
    clip_file = trainer_cfg_pretrained(stage1_run)
    torch.manual_seed(0)
    trainer = RefinerTrainer(clip_model=arch, pretrained=clip_file, token_space='width',
                             refiner=dict(type='Refiner', depth=1, num_heads=4))
    torch.nn.init.normal_(trainer.refiner.out.weight, std=0.05)
    path = str(tmp_path / 'width_refiner.pth')
    factories.refiner_file(path, refiner=trainer.refiner, token_space='width', clip_model=arch)
    images = torch.randn(2, 3, 64, 64)
    expected = trainer.extract_dense(images)
    backbone = RefinerBackbone(clip_model=arch, pretrained=clip_file, refiner_file=path,
                               out_indices=(1, )).eval()
    torch.testing.assert_close(backbone(images)[-1], expected)
    from refclip_mm.models.trainers import RLATrainer
    stage2 = RLATrainer(clip_model=arch, pretrained=clip_file)
    hook = SCDDistillHook(refiner_file=path, precision='fp32')  # exact comparison with the backbone
    torch.testing.assert_close(hook.build_term(stage2).teacher_dense(images), expected)
