"""Stage 0: contrastive pre-training through mmengine's Runner, export, and reload."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from refclip_mm.clip import build_clip
from refclip_mm.clip.tiny import tiny_arch
from refclip_mm.models.trainers import (ContrastiveCLIPTrainer, contrastive_loss,
                                        export_stage0_checkpoint, towers_state_dict)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'toyworld', 'stage0_clip-toy_1xb256-800i_scenes-64.py')


def tiny_stage0_cfg(work_dir, max_iters, name):
    cfg = Config.fromfile(CONFIG)
    arch = tiny_arch('openai')
    arch['vision_cfg']['image_size'] = 64  # tiny tower at the ToyWorld's 64 px
    arch['text_cfg']['context_length'] = 32
    cfg.model.clip_model = arch
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    cfg.train_dataloader.batch_size = 8
    cfg.train_dataloader.dataset.num_samples = 64
    cfg.train_cfg.max_iters = max_iters
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0,
                                end=max_iters)]
    cfg.optim_wrapper.optimizer.lr = 2e-3
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    return cfg


@pytest.fixture(scope='module')
def stage0_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('stage0')
    runner = Runner.from_cfg(tiny_stage0_cfg(work_dir, 4, 'stage0_tiny'))
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    return dict(runner=runner, before=before, work_dir=str(work_dir))


def test_both_towers_and_temperature_train(stage0_run):
    after = stage0_run['runner'].model.state_dict()
    changed = {k for k, v in stage0_run['before'].items() if not torch.equal(v, after[k])}
    assert any(k.startswith('clip.image.') for k in changed)
    assert any(k.startswith('clip.text.') for k in changed)
    assert 'clip.logit_scale' in changed
    loss = stage0_run['runner'].message_hub.get_scalar('train/loss_contrastive').current()
    assert torch.isfinite(torch.tensor(loss))


def test_export_loads_as_a_clip_with_the_trained_weights(stage0_run, tmp_path):
    out = str(tmp_path / 'clip.pth')
    export_stage0_checkpoint(osp.join(stage0_run['work_dir'], 'iter_4.pth'), out)
    model = stage0_run['runner'].model.eval()
    clip = build_clip(model.clip.config, out)
    images = torch.randn(2, 3, 64, 64)
    captions = ['a photo of a red square on grass', 'a photo of a blue ring on sand']
    with torch.no_grad():
        expected_image, expected_text = model.embed(images, captions)
        assert torch.allclose(clip.image.encode_image(images), expected_image, atol=1e-6)
        assert torch.allclose(clip.text.encode_text(captions), expected_text, atol=1e-6)
    assert torch.allclose(clip.logit_scale, model.clip.logit_scale)


def test_loss_goes_down_on_a_fixed_seed(tmp_path):
    runner = Runner.from_cfg(tiny_stage0_cfg(tmp_path, 30, 'stage0_tiny_30'))
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss_contrastive').data[0]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.9 * first


def test_contrastive_loss_matches_the_formula():
    torch.manual_seed(0)
    image, text = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8)
    scale = torch.tensor(2.0)
    logits = scale.exp() * torch.nn.functional.normalize(image, dim=-1) @ \
        torch.nn.functional.normalize(text, dim=-1).t()
    target = torch.arange(4)
    expected = (torch.nn.functional.cross_entropy(logits, target)
                + torch.nn.functional.cross_entropy(logits.t(), target)) / 2
    value = contrastive_loss(image, text, scale)
    assert torch.allclose(value, expected)
    value.backward()
    assert image.grad.abs().sum() > 0
    # aligned pairs cost less than shuffled ones
    aligned = contrastive_loss(text, text, torch.tensor(3.0))
    assert aligned < contrastive_loss(text.roll(1, 0), text, torch.tensor(3.0))


def test_missing_caption_is_named():
    from mmengine.structures import BaseDataElement
    model = ContrastiveCLIPTrainer(tiny_arch('openai'))
    with pytest.raises(ValueError, match="no caption"):
        samples = [BaseDataElement(metainfo=dict(caption='a')), BaseDataElement()]
        model(torch.zeros(2, 3, 32, 32), samples, mode='loss')


def test_export_of_a_non_stage0_checkpoint_is_refused():
    with pytest.raises(ValueError, match='stage-0 checkpoint'):
        towers_state_dict({'student.visual.conv1.weight': torch.zeros(1)}, 'clip.')


def test_bf16_autocast_steps_train_through_the_runner(tmp_path):
    """The stage-0 config trains under bf16 autocast; the weights stay fp32."""
    cfg = tiny_stage0_cfg(tmp_path, 2, 'stage0_bf16')
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith('clip.image.'))
    assert all(v.dtype == torch.float32 for v in after.values() if v.is_floating_point())
    loss = runner.message_hub.get_scalar('train/loss_contrastive').current()
    assert torch.isfinite(torch.tensor(loss))
