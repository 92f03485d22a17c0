"""region_tokens: RoIAlign token grids for region-level SCD."""
import pytest
import torch

import refclip_mm  # noqa: F401
from refclip_mm.models.losses import SCDLoss, region_tokens


def test_constant_map_gives_constant_tokens_and_shape():
    dense = torch.full((2, 5, 8, 8), 3.0)
    dense[1] = -1.0
    rois = torch.tensor([[0, 0.0, 0.0, 8.0, 8.0], [1, 2.0, 1.0, 6.0, 7.0], [0, 1.0, 1.0, 3.0, 2.0]])
    tokens = region_tokens(dense, rois, grid=4)
    assert tokens.shape == (3, 16, 5)
    assert torch.allclose(tokens[0], torch.full((16, 5), 3.0))
    assert torch.allclose(tokens[1], torch.full((16, 5), -1.0))
    assert region_tokens(dense, rois).shape == (3, 14 * 14, 5)


def test_box_on_one_half_of_a_two_valued_map():
    dense = torch.zeros(1, 2, 8, 8)
    dense[:, :, :, :4] = 1.0   # left half 1, right half 0 (columns 0..3)
    dense[:, 1] *= 2.0         # channel 1 doubles it
    left = region_tokens(dense, torch.tensor([[0, 0.5, 0.5, 3.5, 7.5]]), grid=3)
    right = region_tokens(dense, torch.tensor([[0, 4.5, 0.5, 7.5, 7.5]]), grid=3)
    assert torch.allclose(left[0], torch.tensor([1.0, 2.0]).expand(9, 2))
    assert torch.allclose(right, torch.zeros(1, 9, 2))


def test_image_pixel_boxes_with_patch_scale_and_token_order():
    # map value = column index, so token x-order shows up in the values
    dense = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8).contiguous()
    # a box over feature columns 0..4 given in image pixels with patch size 16
    tokens = region_tokens(dense, torch.tensor([[0, 0.0, 0.0, 64.0, 64.0]]), grid=2,
                           spatial_scale=1 / 16)
    # bins centred at feature x = 1 and 3 -> sample values 0.5 and 2.5 (aligned: centre - 0.5)
    assert torch.allclose(tokens[0, :, 0], torch.tensor([0.5, 2.5, 0.5, 2.5]))


def test_gradient_reaches_the_map_and_feeds_scd():
    dense = torch.randn(2, 8, 6, 6, requires_grad=True)
    rois = torch.tensor([[0, 0.0, 0.0, 4.0, 4.0], [1, 1.0, 2.0, 6.0, 6.0]])
    student = region_tokens(dense, rois, grid=5)
    target = region_tokens(torch.randn(2, 8, 6, 6), rois, grid=5)
    SCDLoss()(student, target).backward()
    assert dense.grad.abs().sum() > 0


def test_empty_rois_and_errors():
    dense = torch.randn(1, 4, 5, 5, requires_grad=True)
    assert region_tokens(dense, torch.zeros(0, 5), grid=3).shape == (0, 9, 4)
    with pytest.raises(ValueError, match='K x 5'):
        region_tokens(dense, torch.zeros(2, 4))
    with pytest.raises(ValueError, match='B x D x h x w'):
        region_tokens(dense[0], torch.zeros(1, 5))
    with pytest.raises(ValueError, match=r'batch indices must lie in \[0, 0\]'):
        region_tokens(dense, torch.tensor([[1, 0.0, 0.0, 2.0, 2.0]]))
