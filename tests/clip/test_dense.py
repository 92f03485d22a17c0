"""Dense forward (docs/method.md section 2) on tiny OpenAI-style and EVA-style towers."""
import pytest
import torch
import torch.nn.functional as F
from tower_checks import check_region_features

from refclip_mm.clip import DENSE_MODES, build_image_tower
from refclip_mm.clip.dense import resize_abs_pos_embed


def _tower(weights, kind, **kwargs):
    from refclip_mm.clip import tiny_arch
    path, ref = weights(kind)
    return build_image_tower(tiny_arch(kind), path, **kwargs), ref


def _diag_mask(length):
    mask = torch.full((length, length), float('-inf'))
    mask.fill_diagonal_(0.0)
    return mask


def _last_block_input(tower, x):
    tokens, ctx = tower._embed(x)
    for block in tower.blocks[:-1]:
        tokens = tower._run_block(block, tokens, ctx)
    return tokens, ctx


@torch.no_grad()
def test_cls_embedding_equals_open_clip(weights, kind):
    tower, ref = _tower(weights, kind)
    x = torch.randn(3, 3, 32, 32)
    ours, theirs = tower.encode_image(x), ref.encode_image(x)
    assert ours.shape == (3, 32)
    assert (ours - theirs).abs().max().item() <= 1e-5


@torch.no_grad()
def test_value_mode_is_attention_to_self(weights, kind):
    """The value path equals the trained last block with a diagonal attention mask."""
    tower, _ = _tower(weights, kind)
    x = torch.randn(2, 3, 40, 56)
    dense = tower(x)
    assert dense.shape == (2, 32, 5, 7)
    tokens, ctx = _last_block_input(tower, x)
    last = tower.blocks[-1]
    mask = _diag_mask(tokens.shape[1])
    if kind == 'eva':
        expected = last(tokens, rope=ctx['rope'], attn_mask=mask)
    else:
        expected = last(tokens, attn_mask=mask)
    expected = tower._project_tokens(expected[:, 1:]).transpose(1, 2).reshape(2, 32, 5, 7)
    assert torch.allclose(dense, expected, atol=1e-5)


@torch.no_grad()
def test_plain_mode_is_last_layer_tokens(weights, kind):
    tower, ref = _tower(weights, kind)
    x = torch.randn(2, 3, 32, 32)
    dense = tower(x, mode='plain')
    if kind == 'openai':
        tokens = ref.visual.forward_intermediates(x, indices=[2], intermediates_only=True)
        tokens = tokens['image_intermediates'][0].flatten(2).transpose(1, 2)
        expected = ref.visual.ln_post(tokens) @ ref.visual.proj
    else:
        trunk = ref.visual.trunk
        tokens = trunk.forward_intermediates(x, indices=[2], output_fmt='NLC', intermediates_only=True)[0]
        expected = trunk.head(trunk.norm(tokens))
    assert torch.allclose(dense.flatten(2).transpose(1, 2), expected, atol=1e-5)


@torch.no_grad()
@pytest.mark.parametrize('mode', ['qq', 'kk'])
def test_self_correlation_modes(weights, kind, mode):
    """qq/kk: softmax(s s^T / sqrt(d)) over tokens, written out by hand."""
    tower, _ = _tower(weights, kind)
    x = torch.randn(1, 3, 32, 40)
    dense = tower(x, mode=mode)
    tokens, ctx = _last_block_input(tower, x)
    block = tower.blocks[-1]
    if kind == 'openai':
        y = block.ln_1(tokens)
        q, k, v = F.linear(y, block.attn.in_proj_weight, block.attn.in_proj_bias).chunk(3, -1)
        heads = block.attn.num_heads
    else:
        from timm.layers import apply_rot_embed_cat
        y = block.norm1(tokens)
        q, k, v = block.attn.q_proj(y), block.attn.k_proj(y), block.attn.v_proj(y)
        heads = block.attn.num_heads
    s = q if mode == 'qq' else k
    split = lambda t: t.reshape(1, t.shape[1], heads, -1).transpose(1, 2)  # noqa: E731
    s, v = split(s), split(v)
    if kind == 'eva':
        s = torch.cat([s[:, :, :1], apply_rot_embed_cat(s[:, :, 1:], ctx['rope'])], dim=2)
    attn = (s @ s.transpose(-1, -2) / s.shape[-1] ** 0.5).softmax(-1)
    out = (attn @ v).transpose(1, 2).reshape(tokens.shape)
    if kind == 'openai':
        out = block.attn.out_proj(out)
        h = tokens + out
        h = h + block.mlp(block.ln_2(h))
    else:
        out = block.attn.proj(block.attn.norm(out))
        h = tokens + out
        h = h + block.mlp(block.norm2(h))
    expected = tower._project_tokens(h[:, 1:])
    assert torch.allclose(dense.flatten(2).transpose(1, 2), expected, atol=1e-5)
    value = tower(x, mode='value')
    assert (dense - value).abs().max() > 1e-2 * value.abs().max()


@torch.no_grad()
def test_out_indices_are_block_outputs(weights, kind):
    tower, ref = _tower(weights, kind)
    x = torch.randn(2, 3, 32, 32)
    out = tower.forward_dense(x, out_indices=(0, 1, -1))
    if kind == 'openai':
        expected = ref.visual.forward_intermediates(x, indices=[0, 1, 2], intermediates_only=True)
        expected = expected['image_intermediates']
    else:
        expected = ref.visual.trunk.forward_intermediates(x, indices=[0, 1, 2], intermediates_only=True)
    assert len(out.features) == 3
    for ours, theirs in zip(out.features, expected):
        assert ours.shape == (2, 64, 4, 4)
        assert torch.allclose(ours, theirs, atol=1e-5)
    # the value-path dense map is unaffected by asking for the last block as well
    assert torch.allclose(out.dense, tower(x), atol=1e-6)
    only = tower.forward_dense(x, out_indices=(1, ), return_dense=False)
    assert only.dense is None and torch.allclose(only.features[0], out.features[1])


def test_positional_embedding_resize_matches_bicubic(weights):
    tower, _ = _tower(weights, 'openai')
    pos = tower.visual.positional_embedding.detach()
    resized = resize_abs_pos_embed(pos, (4, 4), (6, 3))
    assert resized.shape == (1 + 18, 64)
    assert torch.equal(resized[0], pos[0])
    grid = pos[1:].reshape(1, 4, 4, 64).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(6, 3), mode='bicubic', align_corners=False)
    assert torch.allclose(resized[1:], expected.permute(0, 2, 3, 1).reshape(18, 64))
    assert resize_abs_pos_embed(pos, (4, 4), (4, 4)) is pos


def test_eva_rope_recomputed_for_new_grid(weights):
    """Rope for a 6x5 grid equals the rope timm caches for a model built at that size."""
    from refclip_mm.clip.tiny import refclip_tiny_eva02_clip_patch8
    tower, _ = _tower(weights, 'eva')
    ours = tower._rope((6, 5), torch.device('cpu'), torch.float32)
    native = refclip_tiny_eva02_clip_patch8(img_size=(48, 40)).rope.get_embed()
    assert ours.shape == native.shape
    assert torch.allclose(ours, native, atol=1e-6)
    assert not torch.allclose(ours[:16], tower._rope((4, 4), None, None), atol=1e-3)


def test_input_size_errors_and_padding(weights, kind):
    tower, _ = _tower(weights, kind)
    with pytest.raises(ValueError, match=r'not a multiple of the patch size 8.*height of 32 or 40'):
        tower(torch.randn(1, 3, 35, 32))
    padded, _ = _tower(weights, kind, pad_to_patch=True)
    with torch.no_grad():
        dense = padded(torch.randn(1, 3, 35, 33))
        assert dense.shape == (1, 32, 5, 5)
        x = torch.randn(1, 3, 35, 33)
        assert torch.allclose(padded(x), padded(F.pad(x, (0, 7, 0, 5))), atol=1e-6)


def test_bad_mode_and_out_indices(weights):
    tower, _ = _tower(weights, 'openai')
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match='unknown dense mode'):
        tower.forward_dense(x, mode='attention')
    with pytest.raises(ValueError, match=r'has 3 blocks: use indices 0..2'):
        tower.forward_dense(x, out_indices=(1, 3))
    assert set(DENSE_MODES) == {'value', 'qq', 'kk', 'plain'}


@torch.no_grad()
def test_region_features_roialign(weights, kind):
    tower, _ = _tower(weights, kind)
    dense, _, feats = check_region_features(tower)
    assert feats.shape == (3, 32)
    rois = torch.tensor([[1., 16., 0., 32., 16.]])
    assert torch.allclose(tower.region_features(dense, rois)[0], feats[2], atol=1e-6)
    empty = tower.region_features(dense, [torch.zeros(0, 4), torch.zeros(0, 4)])
    assert empty.shape == (0, 32)
    with pytest.raises(ValueError, match='boxes for 1 images'):
        tower.region_features(dense, [torch.zeros(1, 4)])


@torch.no_grad()
def test_windowed_attention(weights, kind):
    """Windows equal to the grid reproduce global attention; padded windows mask their padding."""
    tower, _ = _tower(weights, kind)
    x = torch.randn(2, 3, 48, 64)            # 6 x 8 tokens
    whole, _ = _tower(weights, kind, window_size=8)
    assert torch.allclose(whole(x), tower(x), atol=1e-5)

    win, _ = _tower(weights, kind, window_size=4)
    tokens, ctx = win._embed(x)
    out = win._windowed(win.blocks[0], tokens, ctx)
    assert out.shape == tokens.shape
    # the bottom-left window covers rows 4..5 (two padded rows), columns 0..3: run it alone
    rows, cols = torch.meshgrid(torch.arange(4, 6), torch.arange(0, 4), indexing='ij')
    index = (rows * 8 + cols).flatten()
    seq = torch.cat([tokens[:, :1], tokens[:, 1:][:, index]], dim=1)
    sub_ctx = dict(ctx, grid=(2, 4))
    if kind == 'eva':
        sub_ctx['rope'] = ctx['rope'][index]
    alone = win._run_block(win.blocks[0], seq, sub_ctx)
    assert torch.allclose(out[:, 1:][:, index], alone[:, 1:], atol=1e-5)
    global_dense = tower(x)
    assert (win(x) - global_dense).abs().max() > 1e-2 * global_dense.abs().max()


def test_grad_checkpointing_same_gradients(weights, kind):
    tower, _ = _tower(weights, kind)
    ckpt, _ = _tower(weights, kind)
    ckpt.set_grad_checkpointing(True)
    x = torch.randn(1, 3, 32, 32)
    grads = []
    for model in (tower, ckpt):
        out = model.forward_dense(x, out_indices=(1, ))
        (out.dense.square().mean() + out.features[0].mean()).backward()
        grads.append(model.blocks[0].mlp.fc2.weight.grad if kind == 'eva'
                     else model.blocks[0].mlp.c_fc.weight.grad)
    assert grads[0] is not None and grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
