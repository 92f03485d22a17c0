"""Stage-0 CLIP files and stage-2 tower files: written with their metadata, rebuilt from it alone."""
import pytest
import torch
from mmengine.config import Config

from refclip_mm.clip import build_clip, build_image_tower, tiny_arch
from refclip_mm.models.trainers import (ContrastiveCLIPTrainer, RLATrainer,
                                        convert_stage2_checkpoint, export_stage0_checkpoint)
from refclip_mm.models.trainers.convert import stage2_method
from refclip_mm.utils.artifact import read_artifact
from refclip_mm.utils.checkpoint import CheckpointError, load_checkpoint_file


def training_checkpoint(path, model, cfg):
    """A training checkpoint as mmengine's Runner writes it: the model's ``state_dict`` and the
    training config (pretty text) in ``meta.cfg``."""
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=4, cfg=Config(cfg).pretty_text)),
               path)


def test_stage0_clip_file_rebuilds_the_clip_from_its_metadata(tmp_path):
    torch.manual_seed(0)
    arch = tiny_arch('openai')
    trainer = ContrastiveCLIPTrainer(arch).eval()
    torch.nn.init.normal_(trainer.clip.logit_scale)
    ckpt, out = str(tmp_path / 'iter_4.pth'), str(tmp_path / 'clip.pth')
    training_checkpoint(ckpt, trainer, dict(model=dict(type='ContrastiveCLIPTrainer', clip_model=arch)))
    written = export_stage0_checkpoint(ckpt, out)

    state, meta = read_artifact(out, 'clip')
    assert meta == written and meta['artifact'] == 'clip'
    assert meta['clip_model'] == arch and meta['embed_dim'] == 32
    assert meta['source'] == ckpt and meta['iter'] == 4
    assert {k.split('.')[0] for k in state} == {'visual', 'text', 'logit_scale'}
    clip = build_clip(None, out)  # no architecture given: the file's
    images, captions = torch.randn(2, 3, 32, 32), ['a red square', 'a blue ring']
    with torch.no_grad():
        expected_image, expected_text = trainer.embed(images, captions)
        torch.testing.assert_close(clip.image.encode_image(images), expected_image)
        torch.testing.assert_close(clip.text.encode_text(captions), expected_text)
    torch.testing.assert_close(clip.logit_scale, trainer.clip.logit_scale)


def stage2_cfg(arch, refiner=None, loss='RegionCLIPLoss'):
    hooks = [dict(type='SCDDistillHook', refiner_file=refiner, grid_size=4)]
    return dict(model=dict(type='RLATrainer', clip_model=arch, loss_rla=dict(type=loss)),
                custom_hooks=hooks)


def test_stage2_tower_file_records_architecture_and_method(tmp_path):
    torch.manual_seed(0)
    arch = tiny_arch('eva')
    trainer = RLATrainer(clip_model=arch)
    for param in trainer.student.parameters():
        param.data.add_(0.01 * torch.randn_like(param))
    ckpt = str(tmp_path / 'iter_4.pth')
    training_checkpoint(ckpt, trainer, stage2_cfg(arch, refiner='refiner.pth'))
    out = str(tmp_path / 'tower.pth')
    written = convert_stage2_checkpoint(ckpt, out)
    state, meta = read_artifact(out, 'tower')
    assert written == dict(meta, tensors=len(state))
    assert meta['clip_model'] == arch and meta['embed_dim'] == 32 and meta['format'] == 'tower'
    assert meta['method'] == dict(rla='RegionCLIP', scd='R-SC-RLA', refiner='refiner.pth')
    assert meta['source'] == ckpt and meta['alpha'] is None and meta['iter'] == 4
    # a checkpoint whose recorded config used the hook's earlier argument name
    legacy = stage2_cfg(arch, refiner='old.pth')
    legacy['custom_hooks'][0]['refiner'] = legacy['custom_hooks'][0].pop('refiner_file')
    assert stage2_method(legacy) == dict(rla='RegionCLIP', scd='R-SC-RLA', refiner='old.pth')
    tower = build_image_tower(None, out).eval()  # the architecture from the file
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(tower.encode_image(images), trainer.student.encode_image(images))


def test_open_clip_tower_file_keeps_metadata_and_plain_open_clip_loads_it(tmp_path):
    torch.manual_seed(0)
    arch = tiny_arch('openai')
    initial = str(tmp_path / 'initial.pth')
    start = build_clip(arch)
    torch.save({**{'image.' + k: v for k, v in start.image.state_dict().items()},
                **{'text.' + k: v for k, v in start.text.state_dict().items()},
                'logit_scale': start.logit_scale.data}, initial)
    trainer = RLATrainer(clip_model=arch, pretrained=initial)
    for param in trainer.student.parameters():
        param.data.add_(0.01 * torch.randn_like(param))
    cfg = stage2_cfg(arch, loss='CLIPSelfLoss')
    cfg['custom_hooks'] = []
    ckpt = str(tmp_path / 'iter_4.pth')
    training_checkpoint(ckpt, trainer, cfg)
    out = str(tmp_path / 'open_clip.pth')
    convert_stage2_checkpoint(ckpt, out, fmt='open_clip', initial=initial, alpha=0.7)
    meta = load_checkpoint_file(out)['meta']
    assert meta['format'] == 'open_clip' and meta['alpha'] == 0.7 and meta['initial'] == initial
    assert meta['method'] == dict(rla='CLIPSelf', scd=None, refiner=None)
    # plain open_clip.create_model(name, pretrained=out) is checked in tests/tools/test_convert_checkpoint.py
    clip = build_clip(meta['clip_model'], out)
    key = 'visual.transformer.resblocks.0.attn.in_proj_weight'
    expected = 0.7 * trainer.student.state_dict()[key] + 0.3 * start.image.state_dict()[key]
    torch.testing.assert_close(clip.image.state_dict()[key], expected)
    assert not torch.allclose(expected, start.image.state_dict()[key])
    torch.testing.assert_close(clip.logit_scale, start.logit_scale)


def test_a_checkpoint_without_its_config_needs_the_architecture(tmp_path):
    arch = tiny_arch('openai')
    trainer = RLATrainer(clip_model=arch)
    ckpt = str(tmp_path / 'iter_4.pth')
    torch.save(dict(state_dict=trainer.state_dict(), meta=dict(iter=4)), ckpt)
    with pytest.raises(ValueError, match='--clip-model'):
        convert_stage2_checkpoint(ckpt, str(tmp_path / 'tower.pth'))
    meta = convert_stage2_checkpoint(ckpt, str(tmp_path / 'tower.pth'), clip_model=arch)
    assert meta['clip_model'] == arch and meta['method'] is None
    stage0 = str(tmp_path / 'stage0.pth')
    torch.save(dict(state_dict=ContrastiveCLIPTrainer(arch).state_dict(), meta=dict(iter=1)), stage0)
    with pytest.raises(ValueError, match='does not record the CLIP architecture'):
        export_stage0_checkpoint(stage0, str(tmp_path / 'clip.pth'))


def test_wrong_files_are_named(tmp_path):
    arch = tiny_arch('openai')
    stage0 = str(tmp_path / 'stage0.pth')
    training_checkpoint(stage0, ContrastiveCLIPTrainer(arch),
                        dict(model=dict(type='ContrastiveCLIPTrainer', clip_model=arch)))
    with pytest.raises(CheckpointError, match=r'not a stage-2 .*looks like a stage-0'):
        convert_stage2_checkpoint(stage0, str(tmp_path / 'tower.pth'))
    clip_file = str(tmp_path / 'clip.pth')
    export_stage0_checkpoint(stage0, clip_file)
    with pytest.raises(CheckpointError, match=r"'clip' artifact, not a 'tower' file.*convert_checkpoint"):
        read_artifact(clip_file, 'tower')
    plain = str(tmp_path / 'plain.pth')
    torch.save(build_clip(arch, towers=('image', )).image.state_dict(), plain)
    with pytest.raises(CheckpointError, match=r'no artifact metadata.*export_stage0_checkpoint'):
        read_artifact(plain, 'clip')


def test_a_described_file_gives_its_architecture_and_refuses_another(tmp_path):
    from refclip_mm.models.backbones import CLIPViT
    torch.manual_seed(0)
    arch = tiny_arch('openai')
    trainer = ContrastiveCLIPTrainer(arch).eval()
    ckpt, out = str(tmp_path / 'iter_4.pth'), str(tmp_path / 'clip.pth')
    training_checkpoint(ckpt, trainer, dict(model=dict(type='ContrastiveCLIPTrainer', clip_model=arch)))
    export_stage0_checkpoint(ckpt, out)
    backbone = CLIPViT(pretrained=out, out_indices=(1, )).eval()  # no clip_model in the config
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(backbone.tower.encode_image(images),
                                   trainer.clip.image.encode_image(images))
    assert build_image_tower(dict(arch), out) is not None  # the same architecture, given
    other = dict(arch, vision_cfg=dict(arch['vision_cfg'], layers=2))
    with pytest.raises(CheckpointError, match=r"clip\.pth'.*architecture.*meta\.clip_model.*"
                                              r"'layers': 2.*was asked for"):
        CLIPViT(clip_model=other, pretrained=out, out_indices=(1, ))
    with pytest.raises(CheckpointError, match='was asked for'):  # same weights, other activation
        build_image_tower(dict(arch, quick_gelu=not arch.get('quick_gelu', False)), out)
    plain_file = str(tmp_path / 'plain.pth')
    torch.save(trainer.clip.state_dict(), plain_file)
    with pytest.raises(ValueError, match="set clip_model.*plain.pth' does not record one"):
        build_image_tower(None, plain_file)
    with pytest.raises(ValueError, match='no weight file is given'):
        CLIPViT(out_indices=(1, ))
