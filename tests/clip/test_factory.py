"""Building towers from names / arch dicts and loading every accepted weight format."""
import open_clip
import pytest
import torch

from refclip_mm.clip import (build_clip, build_image_tower, build_text_tower, resolve_model_config,
                             tiny_arch)
from refclip_mm.utils.checkpoint import CheckpointError, load_checkpoint_file


def _same_image_embedding(tower, ref, size=32):
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        return (tower.encode_image(x) - ref.encode_image(x)).abs().max().item() <= 1e-5


@pytest.mark.parametrize('name', ['ViT-B-16', 'ViT-L-14', 'ViT-L-14-336', 'ViT-H-14',
                                  'ViT-H-14-quickgelu', 'EVA02-B-16', 'EVA02-L-14', 'EVA02-L-14-336'])
def test_resolve_supported_names(name):
    resolved, cfg = resolve_model_config(name)
    assert resolved == name and 'vision_cfg' in cfg and cfg['embed_dim'] > 0
    assert resolve_model_config(name.replace('-', '/', 1))[0] == name


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"unknown CLIP model name 'ViT-B-61'.*ViT-B-16"):
        resolve_model_config('ViT-B-61')
    with pytest.raises(ValueError, match='lacks'):
        resolve_model_config(dict(vision_cfg={}))


def test_named_towers_build_with_open_clip_structure():
    vit = build_image_tower('ViT-B-16')
    assert (vit.depth, vit.width, vit.embed_dim, vit.patch_size) == (12, 768, 512, 16)
    eva = build_image_tower('EVA02-B-16')
    assert (eva.depth, eva.width, eva.embed_dim, eva.patch_size) == (12, 768, 512, 16)
    assert type(eva).__name__ == 'EvaViTTower'


def test_non_vit_towers_are_refused():
    with pytest.raises(NotImplementedError, match='only CLIP ViTs'):
        build_image_tower('RN50')


def test_open_clip_file_both_towers(weights, kind):
    path, ref = weights(kind)
    model = build_clip(tiny_arch(kind), path)
    assert _same_image_embedding(model.image, ref)
    tokens = open_clip.SimpleTokenizer(context_length=16)(['a photo of a dog'])
    with torch.no_grad():
        assert torch.allclose(model.text.encode_text(tokens), ref.encode_text(tokens), atol=1e-6)
    assert torch.allclose(model.logit_scale, ref.logit_scale)
    text_only = build_text_tower(tiny_arch(kind), path)
    assert text_only.embed_dim == 32 and not hasattr(text_only, 'visual')


def test_safetensors_file(weights, tmp_path):
    from safetensors.torch import save_file
    path, ref = weights('openai')
    st = tmp_path / 'w.safetensors'
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(st))
    assert _same_image_embedding(build_image_tower(tiny_arch('openai'), str(st)), ref)


def test_openai_jit_archive(weights, tmp_path):
    _, ref = weights('openai')
    inputs = dict(encode_image=(torch.ones(1, 3, 32, 32), ),
                  encode_text=(torch.zeros(1, 16, dtype=torch.long), ))
    traced = torch.jit.trace_module(ref, inputs, check_trace=False)
    path = tmp_path / 'openai_jit.pt'
    torch.jit.save(traced, str(path))
    model = build_clip(tiny_arch('openai'), str(path))
    assert _same_image_embedding(model.image, ref)


def test_openai_state_dict_fp16_with_metadata(weights, tmp_path):
    _, ref = weights('openai')
    sd = {k: v.half() if v.is_floating_point() else v for k, v in ref.state_dict().items()}
    sd.update(input_resolution=torch.tensor(32), context_length=torch.tensor(16),
              vocab_size=torch.tensor(49408))
    path = tmp_path / 'openai.pt'
    torch.save(sd, path)
    tower = build_image_tower(tiny_arch('openai'), str(path))
    assert tower.visual.conv1.weight.dtype == torch.float32
    assert torch.equal(tower.visual.conv1.weight, ref.visual.conv1.weight.half().float())


def _eva_original_layout(state_dict):
    """Rename an open_clip EVA state dict into EVA-CLIP's original layout."""
    renames = [('mlp.norm.', 'mlp.ffn_ln.'), ('attn.norm.', 'attn.inner_attn_ln.'),
               ('mlp.fc1_g.', 'mlp.w1.'), ('mlp.fc1_x.', 'mlp.w2.'), ('mlp.fc2.', 'mlp.w3.'),
               ('attn.q_proj.bias', 'attn.q_bias'), ('attn.v_proj.bias', 'attn.v_bias')]
    out = {}
    for key, value in state_dict.items():
        if key.startswith('visual.trunk.'):
            key = 'visual.' + key[len('visual.trunk.'):]
            for old, new in renames:
                key = key.replace(old, new)
        out[key] = value
    out['visual.rope.freqs_cos'] = torch.zeros(16, 8)
    out['visual.rope.freqs_sin'] = torch.zeros(16, 8)
    return out


def test_eva_original_checkpoint(weights, tmp_path):
    _, ref = weights('eva')
    path = tmp_path / 'EVA02_CLIP_tiny.pt'
    torch.save({'module': _eva_original_layout(ref.state_dict())}, path)
    model = build_clip(tiny_arch('eva'), str(path))
    assert _same_image_embedding(model.image, ref)
    with pytest.raises(CheckpointError, match='EVA-CLIP checkpoint'):
        build_image_tower(tiny_arch('openai'), str(path))


def test_stage2_checkpoint_uses_student(weights, tmp_path):
    path, ref = weights('openai')
    sd = ref.state_dict()
    other = {k: torch.zeros_like(v) for k, v in sd.items() if k.startswith('visual.')}
    ckpt = {'meta': {'epoch': 6}, 'state_dict': {
        **{'student.' + k: v for k, v in sd.items() if k.startswith('visual.')},
        **{'teacher.' + k: v for k, v in other.items()}}}
    stage2 = tmp_path / 'epoch_6.pth'
    torch.save(ckpt, stage2)
    tower = build_image_tower(tiny_arch('openai'), str(stage2))
    assert _same_image_embedding(tower, ref)
    teacher = build_image_tower(tiny_arch('openai'), str(stage2), checkpoint_prefix='teacher.')
    assert teacher.visual.conv1.weight.abs().sum() == 0
    with pytest.raises(CheckpointError, match='no text-tower weights'):
        build_clip(tiny_arch('openai'), str(stage2))
    with pytest.raises(CheckpointError, match="starts with 'nobody.'"):
        build_image_tower(tiny_arch('openai'), str(stage2), checkpoint_prefix='nobody.')


def test_bad_checkpoints(weights, tmp_path):
    path, _ = weights('openai')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        build_image_tower(tiny_arch('openai'), str(tmp_path / 'missing.pth'))
    wider = tiny_arch('openai')
    wider['vision_cfg']['width'] = 32
    with pytest.raises(CheckpointError, match=r'shape mismatch: visual\.\S+: file \(\d+.*vs model'):
        build_image_tower(wider, path)
    eva_path, _ = weights('eva')
    with pytest.raises(CheckpointError, match=r'another architecture.*missing keys: visual\.'):
        build_image_tower(tiny_arch('openai'), eva_path)
    junk = tmp_path / 'junk.pth'
    torch.save({'state_dict': {'fc.weight': torch.zeros(2, 2)}}, junk)
    with pytest.raises(CheckpointError, match='holds no CLIP image tower'):
        build_image_tower(tiny_arch('openai'), str(junk))


def test_bad_towers_argument():
    with pytest.raises(ValueError, match='towers'):
        build_clip(tiny_arch('openai'), towers=('audio', ))


def test_towers_roundtrip_through_safe_loader(weights, tmp_path):
    """A tower's own state dict (keys visual.*) is a loadable image-only checkpoint."""
    path, ref = weights('eva')
    tower = build_image_tower(tiny_arch('eva'), path)
    out = tmp_path / 'tower.pth'
    torch.save(tower.state_dict(), out)
    assert set(load_checkpoint_file(str(out))) == set(tower.state_dict())
    assert _same_image_embedding(build_image_tower(tiny_arch('eva'), str(out)), ref)


def test_clip_dims_reads_a_timm_trunks_width():
    """The width a config does not state (timm trunks) comes from the trunk itself."""
    from refclip_mm.clip import tiny_arch
    from refclip_mm.clip.factory import clip_dims
    assert clip_dims('ViT-B-16') == dict(embed_dim=512, width=768)
    assert clip_dims('EVA02-L-14') == dict(embed_dim=768, width=1024)
    assert clip_dims('ViT-B-16-SigLIP2-384') == dict(embed_dim=768, width=768)
    assert clip_dims(tiny_arch('eva')) == dict(embed_dim=32, width=64)
