"""utils.regions: RoI rows, RoIAlign on CPU in any dtype, crops and their sampling option."""
import pytest
import torch
import torch.nn.functional as F

from refclip_mm.utils.regions import (as_nchw, boxes_to_rois, check_sampling_ratio, crop_regions,
                                      region_features, region_tokens, roi_align)


def test_rois_layout_batch_index_first_image_order_and_empty_images():
    boxes = [torch.tensor([[1., 2., 3., 4.], [5., 6., 7., 8.]]), torch.zeros(0, 4),
             [[9, 10, 11, 12]]]
    rois = boxes_to_rois(boxes, 3, dtype=torch.float64)
    assert rois.dtype == torch.float64
    assert rois.tolist() == [[0, 1, 2, 3, 4], [0, 5, 6, 7, 8], [2, 9, 10, 11, 12]]
    assert torch.equal(boxes_to_rois(rois, 3), rois.float())  # K x 5 rows pass through
    assert boxes_to_rois([torch.zeros(0, 4)] * 2, 2).shape == (0, 5)
    with pytest.raises(ValueError, match='boxes for 2 images but the dense map has 3'):
        boxes_to_rois(boxes[:2], 3)
    with pytest.raises(ValueError, match='K x 5'):
        boxes_to_rois(torch.zeros(2, 4), 2)


def test_bf16_map_on_cpu_is_pooled_in_float32_and_returned_in_bf16():
    dense = torch.randn(2, 6, 5, 7).to(torch.bfloat16)
    rois = torch.tensor([[0, 0., 0., 7., 5.], [1, 1.5, 0.5, 6., 4.]])
    reference = roi_align(dense.float(), rois, 3, sampling_ratio=2)
    pooled = roi_align(dense, rois, 3, sampling_ratio=2)
    assert pooled.dtype == torch.bfloat16 and pooled.shape == (2, 6, 3, 3)
    assert torch.equal(pooled, reference.to(torch.bfloat16))
    tokens = region_tokens(dense, rois, grid=3)
    assert tokens.dtype == torch.bfloat16 and tokens.shape == (2, 9, 6)
    feats = region_features(dense, [rois[:1, 1:], rois[1:, 1:]], spatial_scale=1.0)
    assert feats.dtype == torch.bfloat16
    assert torch.equal(feats, roi_align(dense.float(), rois, 1).flatten(1).to(torch.bfloat16))


def test_bf16_gradient_reaches_the_map():
    dense = torch.randn(1, 4, 6, 6, dtype=torch.bfloat16, requires_grad=True)
    region_tokens(dense, torch.tensor([[0, 0., 0., 4., 4.]]), grid=2).float().sum().backward()
    assert dense.grad.dtype == torch.bfloat16 and dense.grad.abs().sum() > 0


def test_region_features_average_the_cells_of_a_cell_aligned_box():
    dense = torch.randn(1, 3, 4, 4)
    feats = region_features(dense, [torch.tensor([[16., 16., 48., 48.]])], spatial_scale=1 / 16)
    assert torch.allclose(feats[0], dense[0, :, 1:3, 1:3].mean(dim=(1, 2)), atol=1e-6)
    assert region_features(dense, [torch.zeros(0, 4)], 1 / 16).shape == (0, 3)


def test_crop_size_and_sampling_option():
    images = torch.randn(2, 3, 16, 24)
    whole = torch.tensor([[0, 0., 0., 24., 16.], [1, 0., 0., 24., 16.]])
    assert crop_regions(images, whole, 5, 1).shape == (2, 3, 5, 5)
    assert crop_regions(images, whole, (4, 6), 1).shape == (2, 3, 4, 6)
    # shrunk 4x: 1 sample per output pixel is a bilinear resize (it reads 2 of every 4 input
    # pixels); 2 x 2 samples per output pixel average all 4 x 4 of its input pixels
    bilinear = F.interpolate(images, size=(4, 6), mode='bilinear', align_corners=False)
    one, two = crop_regions(images, whole, (4, 6), 1), crop_regions(images, whole, (4, 6), 2)
    assert torch.allclose(one, bilinear, atol=1e-5)
    assert torch.allclose(two, F.avg_pool2d(images, 4), atol=1e-5)
    assert not torch.allclose(one, two, atol=1e-2)


def test_bad_sampling_ratio_names_the_key():
    assert check_sampling_ratio(3, 'model.crop_sampling_ratio') == 3
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match='model.crop_sampling_ratio must be an integer >= 0'):
            check_sampling_ratio(bad, 'model.crop_sampling_ratio')


def test_channels_last_and_permuted_maps_pool_as_their_values_say():
    """mmcv's RoIAlign reads memory as NCHW whatever the strides: the package hands it
    contiguous maps, so a channels-last map or a permuted view pools like its NCHW copy."""
    from mmcv.ops import roi_align as mmcv_roi_align
    dense = torch.randn(2, 6, 5, 7, generator=torch.Generator().manual_seed(0))
    rois = torch.tensor([[0, 0.5, 1., 6., 4.5], [1, 2., 0., 7., 3.], [1, 0., 0., 7., 5.]])
    boxes = [rois[:1, 1:], rois[1:, 1:]]
    assert as_nchw(dense) is dense  # no copy of a contiguous map
    layouts = dict(channels_last=dense.contiguous(memory_format=torch.channels_last),
                   permuted=dense.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2))
    raw = mmcv_roi_align(dense, rois, (3, 3), 1.0, 0, 'avg', True)
    for name, x in layouts.items():
        assert torch.equal(x, dense) and not x.is_contiguous(), name
        # the guard is needed: mmcv alone returns other numbers for the same values
        assert not torch.allclose(mmcv_roi_align(x, rois, (3, 3), 1.0, 0, 'avg', True), raw)
        assert torch.equal(roi_align(x, rois, 3), raw), name
        assert torch.equal(region_features(x, boxes, 1.0), region_features(dense, boxes, 1.0))
        assert torch.equal(region_tokens(x, rois, grid=3), region_tokens(dense, rois, grid=3))
        assert torch.equal(crop_regions(x, rois, 4, 2), crop_regions(dense, rois, 4, 2))
        leaf = x.detach().requires_grad_()
        region_tokens(leaf, rois, grid=3).sum().backward()
        reference = dense.clone().requires_grad_()
        region_tokens(reference, rois, grid=3).sum().backward()
        assert torch.equal(leaf.grad, reference.grad), name
