"""The Refiner module: identity at init, light, any grid, trainable away from identity."""
import pytest
import torch

from refclip_mm.models.backbones.refiner import Refiner


def test_untrained_refiner_is_the_identity():
    torch.manual_seed(0)
    refiner = Refiner(dim=32, depth=2, num_heads=4)
    dense = torch.randn(2, 32, 5, 7)  # non-square grid
    assert torch.equal(refiner(dense), dense)
    tokens = torch.randn(3, 11, 32)
    assert torch.equal(refiner.forward_tokens(tokens), tokens)


def test_refiner_is_under_ten_percent_of_a_vit_b16_tower():
    from refclip_mm.clip import build_image_tower
    tower = build_image_tower('ViT-B-16')
    refiner = Refiner(dim=tower.embed_dim)  # defaults: depth 2, 8 heads
    ratio = sum(p.numel() for p in refiner.parameters()) / sum(
        p.numel() for p in tower.parameters())
    assert ratio < 0.10, ratio


def test_one_step_moves_it_away_from_identity():
    torch.manual_seed(0)
    refiner = Refiner(dim=16, depth=1, num_heads=2)
    opt = torch.optim.SGD(refiner.parameters(), lr=0.1)
    dense = torch.randn(2, 16, 4, 4)
    loss = (refiner(dense) - torch.zeros_like(dense)).pow(2).mean()
    loss.backward()
    assert refiner.out.weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.allclose(refiner(dense), dense)


def test_wrong_token_width_is_named():
    refiner = Refiner(dim=32, num_heads=4)
    with pytest.raises(ValueError, match=r'B x 32 x h x w map, got \(1, 64, 4, 4\)'):
        refiner(torch.zeros(1, 64, 4, 4))
    with pytest.raises(ValueError, match='not divisible by num_heads=5'):
        Refiner(dim=32, num_heads=5)


def test_attention_through_sdpa_equals_multihead_attention_with_the_same_weights():
    from refclip_mm.utils.attention import mha_self_attention as self_attention
    torch.manual_seed(0)
    attn = torch.nn.MultiheadAttention(32, 4, batch_first=True)
    x = torch.randn(2, 9, 32, requires_grad=True)
    ours = self_attention(attn, x)
    reference = attn(x, x, x, need_weights=False)[0]
    assert torch.allclose(ours, reference, atol=1e-5)
    ours.sum().backward()
    grad = x.grad.clone()
    x.grad = None
    reference.sum().backward()
    assert torch.allclose(grad, x.grad, atol=1e-5)
    # state-dict keys are the ones of nn.MultiheadAttention (old Refiner files load)
    refiner = Refiner(dim=32, depth=1, num_heads=4)
    assert {'blocks.0.attn.in_proj_weight', 'blocks.0.attn.out_proj.weight'} <= set(
        refiner.state_dict())
