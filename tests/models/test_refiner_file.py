"""The Refiner file: written with its metadata, rebuilt from it alone; older files and bad ones."""
import pytest
import torch
from factories import random_refiner as factory_refiner
from mmengine.config import Config

from refclip_mm.clip import build_image_tower, tiny_arch
from refclip_mm.hooks import SCDDistillHook
from refclip_mm.models.backbones import Refiner, RefinerBackbone
from refclip_mm.models.refined_tower import RefinedTower
from refclip_mm.models.refiner_file import export_refiner, load_refiner_file, save_refiner
from refclip_mm.utils.artifact import LegacyArtifactWarning, artifact_meta, save_artifact
from refclip_mm.utils.checkpoint import CheckpointError, load_checkpoint_file


def random_refiner(dim=32, depth=3, num_heads=2, mlp_ratio=2.0, seed=0):
    """A Refiner of non-default shape, not the identity, in eval mode."""
    return factory_refiner(dim, depth, num_heads, mlp_ratio, out_std=0.2, seed=seed).eval()


def test_round_trip_rebuilds_the_refiner_from_its_metadata(tmp_path):
    refiner = random_refiner()
    path = str(tmp_path / 'refiner.pth')
    written = save_refiner(refiner, path, 'projected', tiny_arch('openai'), source='run/iter_6.pth',
                           iteration=6)
    raw = load_checkpoint_file(path)
    assert raw['meta'] == written and raw['meta']['artifact'] == 'refiner'
    assert raw['meta']['refiner_cfg'] == dict(dim=32, depth=3, num_heads=2, mlp_ratio=2.0)
    assert raw['meta']['clip_embed_dim'] == 32 and raw['meta']['clip_width'] == 64
    assert raw['meta']['source'] == 'run/iter_6.pth' and raw['meta']['iter'] == 6

    loaded = load_refiner_file(path)
    assert loaded.token_space == 'projected' and loaded.meta['clip_model'] == tiny_arch('openai')
    refined = RefinedTower.from_file(build_image_tower(tiny_arch('openai')), path)
    rebuilt = refined.frozen_refiner
    assert refined.token_space == 'projected' and not rebuilt.training
    assert len(rebuilt.blocks) == 3 and rebuilt.blocks[0].attn.num_heads == 2
    tokens = torch.randn(2, 32, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(tokens), refiner(tokens), rtol=0, atol=0)


def test_refiner_backbone_takes_the_shape_from_the_file_not_a_config(tmp_path):
    refiner = random_refiner(depth=3, num_heads=4)
    path = str(tmp_path / 'refiner.pth')
    save_refiner(refiner, path, 'projected', tiny_arch('openai'))
    # no refiner options at all (the Refiner's defaults are depth 2, 8 heads)
    backbone = RefinerBackbone(clip_model=tiny_arch('openai'), refiner_file=path,
                               out_indices=(1, )).eval()
    assert len(backbone.refiner.blocks) == 3 and backbone.refiner.blocks[0].attn.num_heads == 4
    dense = torch.randn(1, 32, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(backbone.refiner(dense), refiner(dense), rtol=0, atol=0)
    with pytest.raises(ValueError, match='conflict'):
        RefinerBackbone(clip_model=tiny_arch('openai'), refiner_file=path, out_indices=(1, ),
                        refiner=dict(depth=2))
    with pytest.raises(ValueError, match='conflict'):
        RefinerBackbone(clip_model=tiny_arch('openai'), refiner_file=path, out_indices=(1, ),
                        refiner=dict(token_space='width'))


def test_the_earlier_argument_names_are_refused_naming_the_new_one(tmp_path):
    path = str(tmp_path / 'refiner.pth')
    save_refiner(random_refiner(), path, 'projected', tiny_arch('openai'))
    with pytest.raises(TypeError, match="RefinerBackbone: the argument 'refiner_checkpoint' is "
                                        "now called 'refiner_file'"):
        RefinerBackbone(clip_model=tiny_arch('openai'), refiner_checkpoint=path)
    with pytest.raises(TypeError, match="SCDDistillHook: the argument 'refiner' is now called "
                                        "'refiner_file'"):
        SCDDistillHook(refiner=path)
    with pytest.raises(TypeError, match=r"SCDDistillHook got unexpected arguments \['grid'\]"):
        SCDDistillHook(grid=4)
    assert SCDDistillHook(refiner_file=path).refiner_file == path


def test_a_width_space_file_records_its_space(tmp_path):
    path = str(tmp_path / 'width.pth')
    save_refiner(random_refiner(dim=64, num_heads=4), path, 'width', tiny_arch('openai'))
    loaded = load_refiner_file(path)
    assert loaded.arch == dict(dim=64, depth=3, num_heads=4, mlp_ratio=2.0)
    assert loaded.token_space == 'width'
    assert set(loaded.state_dict) == set(Refiner(64, 3, 4, 2.0).state_dict())


def test_wrong_or_missing_metadata_is_named(tmp_path):
    refiner = random_refiner()
    clip_file = str(tmp_path / 'clip.pth')
    save_artifact(clip_file, {'visual.proj': torch.zeros(2)},
                  artifact_meta('clip', 'x.pth', clip_model=tiny_arch('openai'), embed_dim=32))
    with pytest.raises(CheckpointError, match=r"'clip' artifact, not a 'refiner' file.*export_refiner"):
        load_refiner_file(clip_file)
    incomplete = str(tmp_path / 'incomplete.pth')
    torch.save(dict(state_dict=refiner.state_dict(), meta=dict(
        artifact='refiner', format_version=1, source='x', refiner_cfg=dict(dim=32))), incomplete)
    with pytest.raises(CheckpointError, match=r"lacks \['token_space', 'clip_model'\].*export_refiner"):
        load_refiner_file(incomplete)
    future = str(tmp_path / 'future.pth')
    torch.save(dict(state_dict=refiner.state_dict(), meta=dict(artifact='refiner', format_version=99)),
               future)
    with pytest.raises(CheckpointError, match='format version 99'):
        load_refiner_file(future)
    bare = str(tmp_path / 'bare.pth')
    torch.save({'visual.conv1.weight': torch.zeros(1)}, bare)
    with pytest.raises(CheckpointError, match='not a Refiner file.*export_refiner'):
        load_refiner_file(bare)
    with pytest.raises(ValueError, match='token_space'):
        save_refiner(refiner, str(tmp_path / 'x.pth'), 'pixels', tiny_arch('openai'))


def stage1_checkpoint(path, refiner, token_space='projected', heads_in_config=True):
    """A stage-1 training checkpoint as mmengine's Runner writes it: ``refiner.*`` weights and
    the training config (pretty text) in ``meta.cfg``."""
    refiner_cfg = dict(type='Refiner', depth=len(refiner.blocks))
    if heads_in_config:
        refiner_cfg['num_heads'] = refiner.blocks[0].attn.num_heads
    cfg = Config(dict(model=dict(type='RefinerTrainer', clip_model=tiny_arch('openai'),
                                 refiner=refiner_cfg, token_space=token_space)))
    state = {'refiner.' + k: v for k, v in refiner.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict(iter=6, cfg=cfg.pretty_text)), path)


def test_export_writes_the_architecture_of_a_stage1_checkpoint(tmp_path):
    refiner = random_refiner(dim=64, depth=2, num_heads=4, mlp_ratio=3.0)
    ckpt = str(tmp_path / 'iter_6.pth')
    stage1_checkpoint(ckpt, refiner, token_space='width')
    out = str(tmp_path / 'refiner.pth')
    meta = export_refiner(ckpt, out)
    assert meta['refiner_cfg'] == dict(dim=64, depth=2, num_heads=4, mlp_ratio=3.0)
    assert meta['token_space'] == 'width' and meta['clip_model'] == tiny_arch('openai')
    assert meta['source'] == ckpt and meta['iter'] == 6 and meta['dense_mode'] == 'value'
    loaded = load_refiner_file(out)
    assert loaded.meta == meta
    torch.testing.assert_close(loaded.state_dict['out.weight'], refiner.out.weight, rtol=0, atol=0)


def test_older_files_load_with_a_warning_and_export_rewrites_them(tmp_path):
    refiner = random_refiner(depth=2, num_heads=8)  # the Refiner defaults fill what is missing
    old = str(tmp_path / 'old.pth')
    torch.save(dict(state_dict=refiner.state_dict(), meta=dict(
        refiner_cfg=dict(dim=32, depth=2), clip_model=tiny_arch('openai'), source='run/iter_2.pth')),
        old)
    with pytest.warns(LegacyArtifactWarning, match='export_refiner.py'):
        loaded = load_refiner_file(old)
    assert loaded.arch == dict(dim=32, depth=2, num_heads=8, mlp_ratio=2.0)
    new = str(tmp_path / 'new.pth')
    meta = export_refiner(old, new)
    assert meta['artifact'] == 'refiner' and meta['source'] == 'run/iter_2.pth'
    assert load_refiner_file(new).arch == loaded.arch

    ckpt = str(tmp_path / 'iter_6.pth')
    stage1_checkpoint(ckpt, random_refiner(depth=1, num_heads=4), heads_in_config=True)
    with pytest.warns(LegacyArtifactWarning, match='stage-1 training checkpoint'):
        assert load_refiner_file(ckpt).arch == dict(dim=32, depth=1, num_heads=4, mlp_ratio=2.0)


def test_a_config_that_contradicts_the_weights_is_refused(tmp_path):
    ckpt = str(tmp_path / 'iter_6.pth')
    refiner = random_refiner(depth=2, num_heads=4)
    stage1_checkpoint(ckpt, refiner)
    saved = torch.load(ckpt, weights_only=False)
    saved['meta']['cfg'] = saved['meta']['cfg'].replace('depth=2', 'depth=5')
    torch.save(saved, ckpt)
    with pytest.raises(CheckpointError, match='disagree'):
        export_refiner(ckpt, str(tmp_path / 'out.pth'))
