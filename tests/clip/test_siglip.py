"""SigLIP 2 image towers (docs/towers.md, docs/method.md section 2.1) on the tiny SigLIP-2-shaped
tower: the dense forward without class token, the value path through the attention-pool head,
the backbone and stage-1 pieces that need only the image tower, and the text tower's missing
tokenizer files named."""
import copy

import pytest
import torch
import torch.nn.functional as F
from tower_checks import check_region_features

from refclip_mm.clip import (build_clip, build_image_tower, build_text_tower, make_tiny_clip,
                             tiny_arch)
from refclip_mm.clip.dense import SigLIPViTTower


@pytest.fixture(scope='module')
def siglip(tmp_path_factory):
    """(weight file, open_clip model) of a tiny SigLIP 2 CLIP whose image weights are all
    jittered, so that every bias, norm and layer scale takes part in the comparisons."""
    ref = make_tiny_clip('siglip2', seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in ref.visual.parameters():
            param.add_(0.2 * torch.randn(param.shape, generator=generator))
    path = tmp_path_factory.mktemp('siglip2') / 'open_clip.pth'
    torch.save(ref.state_dict(), path)
    return str(path), ref


def _tower(siglip, **kwargs):
    return build_image_tower(tiny_arch('siglip2'), siglip[0], **kwargs)


def _one_hot_mask(length, index):
    mask = torch.full((1, 1, 1, length), float('-inf'))
    mask[..., index] = 0.0
    return mask


def _head_on_one_token(tower, tokens, index):
    """The tower's head as trained (its own modules), its attention forced onto token ``index``."""
    trunk = tower.trunk
    pooled = trunk.attn_pool(tokens, attn_mask=_one_hot_mask(tokens.shape[1], index))
    return tower.visual.head(trunk.head(trunk.fc_norm(pooled)))


def test_siglip_tower_structure(siglip):
    tower = _tower(siglip)
    assert isinstance(tower, SigLIPViTTower)
    assert (tower.num_prefix, tower.depth, tower.width, tower.embed_dim, tower.patch_size,
            tower.native_grid) == (0, 3, 32, 32, 8, (4, 4))
    assert all(k.startswith('visual.trunk.') for k in tower.state_dict())


def test_named_siglip2_tower_builds_with_open_clip_structure():
    tower = build_image_tower('ViT-B-16-SigLIP2')
    assert isinstance(tower, SigLIPViTTower)
    assert (tower.depth, tower.width, tower.embed_dim, tower.patch_size, tower.native_grid) == (
        12, 768, 768, 16, (14, 14))


@torch.no_grad()
def test_encode_image_is_open_clips_map_pooling(siglip):
    tower, ref = _tower(siglip), siglip[1]
    x = torch.randn(3, 3, 32, 32)
    ours, theirs = tower.encode_image(x), ref.encode_image(x)
    assert ours.shape == (3, 32)
    assert (ours - theirs).abs().max().item() <= 1e-5
    assert tower.encode_image(torch.randn(2, 3, 48, 40)).shape == (2, 32)


@torch.no_grad()
def test_dense_map_at_any_size(siglip):
    tower = _tower(siglip)
    for size, grid in (((40, 56), (5, 7)), ((64, 64), (8, 8)), ((16, 48), (2, 6))):
        out = tower.forward_dense(torch.randn(2, 3, *size), out_indices=(0, -1))
        assert out.dense.shape == (2, 32, *grid)
        assert [tuple(f.shape) for f in out.features] == [(2, 32, *grid)] * 2
    width = tower.forward_dense(torch.randn(1, 3, 40, 24), project=False).dense
    assert width.shape == (1, 32, 5, 3)
    # the position table: the patch grid resized like the other towers' (no prefix rows)
    from refclip_mm.clip.dense import resize_abs_pos_embed
    pos = tower.trunk.pos_embed[0]
    resized = resize_abs_pos_embed(pos, (4, 4), (5, 7), num_prefix=0)
    expected = F.interpolate(pos.reshape(1, 4, 4, 32).permute(0, 3, 1, 2), size=(5, 7),
                             mode='bicubic', align_corners=False)
    assert torch.allclose(resized, expected.permute(0, 2, 3, 1).reshape(35, 32))


@torch.no_grad()
def test_out_indices_are_timms_block_outputs(siglip):
    tower, ref = _tower(siglip), siglip[1]
    x = torch.randn(2, 3, 32, 32)
    out = tower.forward_dense(x, out_indices=(0, 1, 2))
    expected = ref.visual.trunk.forward_intermediates(x, indices=[0, 1, 2], intermediates_only=True)
    for ours, theirs in zip(out.features, expected):
        assert torch.allclose(ours, theirs, atol=1e-5)


@torch.no_grad()
def test_value_path_is_the_head_attending_to_one_token(siglip):
    """Token i of the dense map = the MAP head's output when its attention is all on token i."""
    tower = _tower(siglip)
    x = torch.randn(2, 3, 40, 24)
    out = tower.forward_dense(x, mode='value')
    normed = tower.forward_dense(x, mode='value', project=False).dense
    tokens = normed.flatten(2).transpose(1, 2)                        # B x h*w x C, after the norm
    dense = out.dense.flatten(2).transpose(1, 2)
    for index in range(tokens.shape[1]):
        assert torch.allclose(dense[:, index], _head_on_one_token(tower, tokens, index), atol=1e-5)
    assert torch.allclose(tower.project_map(normed), out.dense, atol=1e-6)
    # the pooled embedding is a mixture through the same head, not one of its tokens
    pooled = tower.trunk.attn_pool(tokens)
    assert (pooled[:, None] - dense).abs().amax(dim=-1).min() > 1e-3


@torch.no_grad()
def test_plain_mode_runs_open_clips_trunk(siglip):
    """plain: the trunk's own tokens (timm's forward_features) through the per-token head."""
    tower, ref = _tower(siglip), siglip[1]
    x = torch.randn(1, 3, 32, 32)
    dense = tower(x, mode='plain').flatten(2).transpose(1, 2)
    tokens = ref.visual.trunk.forward_features(x)
    for index in range(tokens.shape[1]):
        assert torch.allclose(dense[:, index], _head_on_one_token(tower, tokens, index), atol=1e-5)


@torch.no_grad()
def test_last_block_modes(siglip):
    tower = _tower(siglip)
    x = torch.randn(1, 3, 32, 40)
    tokens, ctx = tower._embed(x)
    for block in tower.blocks[:-1]:
        tokens = tower._run_block(block, tokens, ctx)
    block = tower.blocks[-1]
    length = tokens.shape[1]
    # value: the block as trained with a diagonal attention mask
    diag = torch.full((length, length), float('-inf'))
    diag.fill_diagonal_(0.0)
    expected = tower._project_tokens(block(tokens, attn_mask=diag))
    value = tower(x, mode='value')
    assert torch.allclose(value.flatten(2).transpose(1, 2), expected, atol=1e-5)
    # qq / kk: softmax(s s^T / sqrt(d)) written out by hand
    y = block.norm1(tokens)
    q, k, v = block.attn.qkv(y).chunk(3, dim=-1)
    heads = block.attn.num_heads
    split = lambda t: t.reshape(1, length, heads, -1).transpose(1, 2)  # noqa: E731
    for mode, s in (('qq', q), ('kk', k)):
        s = split(s)
        attn = (s @ s.transpose(-1, -2) / s.shape[-1] ** 0.5).softmax(-1)
        out = (attn @ split(v)).transpose(1, 2).reshape(tokens.shape)
        h = tokens + block.ls1(block.attn.proj(out))
        h = h + block.ls2(block.mlp(block.norm2(h)))
        dense = tower(x, mode=mode)
        assert torch.allclose(dense.flatten(2).transpose(1, 2), tower._project_tokens(h), atol=1e-5)
        assert (dense - value).abs().max() > 1e-2 * value.abs().max()


@torch.no_grad()
def test_region_features_without_class_token(siglip):
    _, _, feats = check_region_features(_tower(siglip))
    assert feats.shape == (3, 32)


@torch.no_grad()
def test_windowed_attention_without_class_token(siglip):
    tower = _tower(siglip)
    x = torch.randn(2, 3, 48, 64)            # 6 x 8 tokens
    assert torch.allclose(_tower(siglip, window_size=8)(x), tower(x), atol=1e-5)
    win = _tower(siglip, window_size=4)
    tokens, ctx = win._embed(x)
    out = win._windowed(win.blocks[0], tokens, ctx)
    assert out.shape == tokens.shape
    # the bottom-left window: rows 4..5 (two padded rows), columns 0..3, run alone
    rows, cols = torch.meshgrid(torch.arange(4, 6), torch.arange(0, 4), indexing='ij')
    index = (rows * 8 + cols).flatten()
    alone = win._run_block(win.blocks[0], tokens[:, index], dict(ctx, grid=(2, 4)))
    assert torch.allclose(out[:, index], alone, atol=1e-5)
    assert (win(x) - tower(x)).abs().max() > 1e-2 * tower(x).abs().max()


def test_grad_checkpointing_same_gradients(siglip):
    plain, ckpt = _tower(siglip), _tower(siglip)
    ckpt.set_grad_checkpointing(True)
    x = torch.randn(1, 3, 32, 32)
    grads = []
    for model in (plain, ckpt):
        out = model.forward_dense(x, out_indices=(1, ))
        (out.dense.square().mean() + out.features[0].mean()).backward()
        grads.append(model.blocks[0].mlp.fc2.weight.grad)
    assert grads[0] is not None and grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def _backbone(siglip, **kwargs):
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    import refclip_mm  # noqa: F401  (registers CLIPViT in mmdet)
    cfg = dict(type='CLIPViT', clip_model=tiny_arch('siglip2'), pretrained=siglip[0],
               out_indices=(0, 1, 2))
    cfg.update(kwargs)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(copy.deepcopy(cfg))


def test_backbone_forward_and_trainable_blocks(siglip):
    backbone = _backbone(siglip, out_indices=(0, 1, 1, 2), pyramid_scales=(4, 2, 1, 0.5),
                         with_dense=True, frozen_stages=3)
    backbone.eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        outs = backbone(x)
    assert [tuple(o.shape) for o in outs] == [(2, 32, 32, 24), (2, 32, 16, 12), (2, 32, 8, 6),
                                              (2, 32, 4, 3), (2, 32, 8, 6)]
    assert backbone.tower_frozen
    assert torch.allclose(outs[-1], backbone.tower(x), atol=1e-6)

    trainable = _backbone(siglip, with_dense=True, trainable_blocks=(1, 2))
    outs = trainable(torch.randn(1, 3, 32, 40))
    (outs[-1].square().mean() + outs[1].mean()).backward()
    blocks = trainable.tower.blocks
    for index in (1, 2):
        grad = blocks[index].attn.qkv.weight.grad
        assert grad is not None and grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in blocks[0].parameters())
    assert all(not p.requires_grad for p in trainable.tower.trunk.attn_pool.parameters())
    assert all(not p.requires_grad for p in trainable.tower.trunk.patch_embed.parameters())


def test_pyramid_feeds_an_mmdet_fpn(siglip):
    """The backbone's pyramid through mmdet's FPN, as in an F-ViT / Faster R-CNN config."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    backbone = _backbone(siglip, out_indices=(0, 1, 1, 2), pyramid_scales=(4, 2, 1, 0.5),
                         frozen_stages=3)
    with DefaultScope.overwrite_default_scope('mmdet'):
        neck = MODELS.build(dict(type='FPN', in_channels=[32] * 4, out_channels=16, num_outs=5))
    with torch.no_grad():
        feats = neck(backbone(torch.randn(1, 3, 64, 64)))
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]


@torch.no_grad()
def test_refined_tower_and_dense_fn(siglip):
    from factories import random_refiner

    from refclip_mm.models.dense_source import find_dense_fn
    from refclip_mm.models.refined_tower import RefinedTower
    tower = _tower(siglip)
    x = torch.randn(2, 3, 32, 40)
    own = tower(x)
    assert torch.allclose(RefinedTower(tower)(x), own, atol=1e-6)
    for space in ('projected', 'width'):
        refiner = random_refiner(dim=32)
        refined = RefinedTower(tower, refiner, token_space=space)(x)
        tokens = tower.forward_dense(x, project=space == 'projected').dense
        expected = refiner(tokens)
        if space == 'width':
            expected = tower.project_map(expected)
        assert refined.shape == (2, 32, 4, 5)
        assert torch.allclose(refined, expected, atol=1e-5)
    assert torch.allclose(find_dense_fn(tower)(x), own, atol=1e-6)
    backbone = _backbone(siglip, out_indices=(1, ), dense_mode='kk')
    assert torch.allclose(find_dense_fn(backbone)(x), tower(x, mode='kk'), atol=1e-6)


def test_text_tower_without_tokenizer_files_names_them(siglip):
    """The text tower reads SigLIP's tokenizer from local files only (tests/clip/
    test_siglip_text.py); without them it says which files and how to get them, and the image
    tower builds as before."""
    for call in (lambda: build_text_tower(tiny_arch('siglip2'), siglip[0]),
                 lambda: build_clip(tiny_arch('siglip2'), siglip[0]),
                 lambda: build_text_tower('ViT-B-16-SigLIP2')):
        with pytest.raises(FileNotFoundError,
                           match=r"Hugging Face tokenizer 'timm/ViT-B-16-SigLIP2' as local files "
                                 r'\(tokenizer_config\.json and tokenizer\.json\).*snapshot_download'):
            call()
    image_only = build_clip(tiny_arch('siglip2'), siglip[0], towers=('image', ))
    assert image_only.text is None and isinstance(image_only.image, SigLIPViTTower)


def test_every_siglip2_name_builds_a_dense_tower():
    """Every ``*-SigLIP2*`` model of the pinned open_clip builds as a SigLIP image tower whose
    dense map has the grid of its input (built and run on the meta device: shapes, no weights)."""
    import open_clip

    from refclip_mm.clip.dense import SigLIPViTTower
    names = [n for n in open_clip.list_models() if 'SigLIP2' in n]
    assert len(names) >= 10 and 'ViT-B-16-SigLIP2-384' in names
    for name in names:
        with torch.device('meta'):
            tower = build_image_tower(name)
            assert isinstance(tower, SigLIPViTTower), name
            patch = tower.patch_size
            dense = tower.forward_dense(torch.empty(1, 3, 3 * patch, 5 * patch)).dense
        assert tuple(dense.shape) == (1, tower.embed_dim, 3, 5), name
