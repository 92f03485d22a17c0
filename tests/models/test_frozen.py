"""FrozenModule: no graph, outputs usable in a graph-building loss, optional autocast."""
import pytest
import torch
from torch import nn

from refclip_mm.models.frozen import FrozenModule, check_precision


def test_outputs_have_no_graph_but_can_be_saved_by_a_loss_that_trains_something_else():
    torch.manual_seed(0)
    frozen = FrozenModule(nn.Linear(8, 8))
    student = nn.Linear(8, 8)
    x = torch.randn(4, 8)
    for precision in ('fp32', 'bf16'):
        target = frozen('forward', x, precision=precision)
        assert target.dtype == torch.float32 and target.grad_fn is None
        assert not target.requires_grad and not target.is_inference()
        # cosine saves the target for backward (what CLIPSelf does with the crop embeddings)
        loss = 1 - torch.cosine_similarity(student(x), target, dim=-1).mean()
        loss.backward()
        assert student.weight.grad.abs().sum() > 0
        student.zero_grad()
    assert frozen.module.weight.grad is None


def test_bf16_autocast_runs_the_products_in_bf16_and_keeps_the_residual_in_fp32():
    from refclip_mm.clip import TINY_OPENAI_ARCH, build_image_tower
    torch.manual_seed(0)
    tower = FrozenModule(build_image_tower(TINY_OPENAI_ARCH))
    images = torch.randn(2, 3, 32, 32)
    full = tower('forward_dense', images).dense
    low = tower('forward_dense', images, precision='bf16').dense
    assert low.dtype == torch.float32
    assert not torch.equal(low, full)
    assert (low - full).norm() <= 0.05 * full.norm()
    # the residual stream stays in the input's dtype under autocast
    seen = []
    norm = tower.module.blocks[0].ln_2  # its input is the residual stream after attention
    handle = norm.register_forward_hook(lambda m, i, o: seen.append(i[0].dtype))
    tower('forward_dense', images, precision='bf16')
    handle.remove()
    assert seen == [torch.float32]


def test_precision_names_are_checked():
    assert check_precision('bf16') == 'bf16'
    with pytest.raises(ValueError, match="my_key must be one of .*'fp16'.*got 'half'"):
        check_precision('half', 'my_key')
