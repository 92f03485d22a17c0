"""The switches that trade memory (docs/training.md, "Fitting smaller GPUs"): tools/train.py's
--auto-scale-lr and --amp, gradient checkpointing of the stage-2 student and of a partly frozen
CLIPViT backbone (same gradients as without), and the full-size configs' stated set-up."""
import copy
import glob
import os.path as osp
import re
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement

from refclip_mm.apis.runs import use_amp
from refclip_mm.clip import tiny_arch
from refclip_mm.engine import AutocastOptimWrapper
from refclip_mm.models.backbones import CLIPViT
from refclip_mm.models.trainers import RLATrainer

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))
import train as train_tool  # noqa: E402  (tools/train.py)

STAGE2 = osp.join(REPO, 'configs', 'rla', 'clipself-patches-rsc_vit-b16-openai_8xb2-6e_coco-1024.py')
CATSEG = osp.join(REPO, 'configs', 'catseg', 'catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384.py')
# the full-size training configs of every tower
TRAINING_CONFIGS = [path for path in (
    glob.glob(osp.join(REPO, 'configs', 'refiner', '*_coco-448.py'))
    + glob.glob(osp.join(REPO, 'configs', 'rla', '*_coco-*.py'))
    + glob.glob(osp.join(REPO, 'configs', 'fvit', '*_ov-*.py'))
    + glob.glob(osp.join(REPO, 'configs', 'catseg', '*_coco-stuff171-384.py'))
    + glob.glob(osp.join(REPO, 'configs', 'custom', '*.py')))
    if re.search(r'[_-](openai|eva02|siglip2-384|metaclip)[_-]', osp.basename(path))]


def built(config, *options, work_dir):
    args = train_tool.parse_args([config, '--work-dir', str(work_dir), *options])
    return train_tool.build_config(args)


@pytest.mark.parametrize('config, base, batch', [(STAGE2, 16, 2), (CATSEG, 4, 1)])
def test_auto_scale_lr_scales_by_the_total_batch(config, base, batch, tmp_path):
    """--auto-scale-lr turns on the config's auto_scale_lr; mmengine's Runner.scale_lr then
    multiplies the learning rate by (processes x batch) / base_batch_size."""
    assert not built(config, work_dir=tmp_path).auto_scale_lr.enable
    cfg = built(config, '--auto-scale-lr', work_dir=tmp_path)
    assert cfg.auto_scale_lr.enable and cfg.auto_scale_lr.base_batch_size == base
    assert cfg.train_dataloader.batch_size == batch
    lr = cfg.optim_wrapper.optimizer.lr
    for world_size in (1, 2):
        wrapper = OptimWrapper(torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=lr))
        runner = SimpleNamespace(_train_dataloader=dict(cfg.train_dataloader),
                                 world_size=world_size, param_schedulers=None,
                                 logger=MMLogger.get_current_instance())
        Runner.scale_lr(runner, wrapper, cfg.auto_scale_lr)
        assert wrapper.optimizer.param_groups[0]['lr'] == pytest.approx(
            lr * world_size * batch / base)


def test_auto_scale_lr_needs_a_base_batch_size(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text("optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))\n")
    with pytest.raises(ValueError, match="base_batch_size"):
        built(str(path), '--auto-scale-lr', work_dir=tmp_path)


def test_amp_on_cuda_and_on_the_cpu(tmp_path):
    """--amp: mmengine's AmpOptimWrapper with CUDA; the package's AutocastOptimWrapper without
    (AmpOptimWrapper refuses to run there); a config asking for either keeps it."""
    cfg = built(STAGE2, work_dir=tmp_path)
    clip_grad = cfg.optim_wrapper.clip_grad
    cuda = use_amp(copy.deepcopy(cfg), cuda=True).optim_wrapper
    assert cuda.type == 'AmpOptimWrapper' and cuda.loss_scale == 'dynamic'
    cpu = use_amp(copy.deepcopy(cfg), cuda=False).optim_wrapper
    assert cpu.type == 'refclip_mm.AutocastOptimWrapper' and cpu.clip_grad == clip_grad
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), cpu)
    assert isinstance(wrapper, AutocastOptimWrapper)
    if not torch.cuda.is_available():
        assert built(STAGE2, '--amp', work_dir=tmp_path).optim_wrapper.type == cpu.type
    kept = Config(dict(optim_wrapper=dict(type='AutocastOptimWrapper', dtype='bfloat16')))
    assert use_amp(kept, cuda=True).optim_wrapper.type == 'AutocastOptimWrapper'


def _rla_grads(weights, grad_checkpointing):
    path, _ = weights('openai')
    torch.manual_seed(0)
    model = RLATrainer(clip_model=tiny_arch('openai'), pretrained=path,
                       grad_checkpointing=grad_checkpointing)
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    samples = []
    for i in range(2):
        sample = BaseDataElement(metainfo=dict(img_path=f'{i}.jpg'))
        sample.boxes = torch.tensor([[0., 0., 32., 32.], [16., 8., 64., 56.]])
        samples.append(sample)
    losses = model.loss(images, samples)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_stage2_student_checkpointing_gives_the_same_gradients(weights):
    plain, ckpt = _rla_grads(weights, False), _rla_grads(weights, True)
    assert plain.keys() == ckpt.keys() and len(plain) > 10
    assert any(g.abs().sum() > 0 for g in plain.values())
    for name, grad in plain.items():
        assert torch.allclose(grad, ckpt[name], atol=1e-6, rtol=1e-4), name


def test_partly_frozen_backbone_checkpointing_gives_the_same_gradients(weights):
    """frozen_stages=1 (stem and block 0 frozen) with and without checkpointing."""
    path, _ = weights('openai')
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    grads = []
    for grad_checkpointing in (False, True):
        model = CLIPViT(clip_model=tiny_arch('openai'), pretrained=path, out_indices=(1, 2),
                        with_dense=True, frozen_stages=1, grad_checkpointing=grad_checkpointing)
        out = model(x)
        sum(o.square().mean() for o in out).backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
        assert not any(p.requires_grad for p in model.tower.blocks[0].parameters())
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name, grad in grads[0].items():
        assert torch.allclose(grad, grads[1][name], atol=1e-6, rtol=1e-4), name


def test_full_size_training_configs_state_their_gpus_and_memory():
    """Each full-size training config says in its header how many GPUs and how much memory its
    schedule assumes, and records the batch its learning rate is set for."""
    assert len(TRAINING_CONFIGS) == 53 + 13 + 8  # OpenAI, EVA02; SigLIP 2; MetaCLIP
    for path in TRAINING_CONFIGS:
        with open(path) as f:
            header = ''.join(line for line in f if line.startswith('#'))
        name = osp.relpath(path, REPO)
        assert re.search(r'\d+ GPUs? x \d+ images?', header), name
        assert re.search(r'GB', header), name
        cfg = Config.fromfile(path)
        assert cfg.auto_scale_lr.base_batch_size > 0, name
