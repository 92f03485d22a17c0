import numpy as np
import pytest
import torch

from refclip_mm.evaluation import correlation_map, kmeans_map, make_panel, panel_size, pca_rgb
from refclip_mm.evaluation.dense_visualization import align_labels, fit_title, stack_panels


def two_regions(dim=16, h=6, w=8):
    """Left half one direction, right half another (plus a little noise)."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(dim, generator=g), torch.randn(dim, generator=g)
    feats = torch.empty(dim, h, w)
    feats[:, :, :w // 2] = a[:, None, None]
    feats[:, :, w // 2:] = b[:, None, None]
    return feats + 0.01 * torch.randn(feats.shape, generator=g)


def test_pictures_of_two_regions():
    feats = two_regions()
    rgb = pca_rgb(feats)
    assert rgb.shape == (6, 8, 3) and rgb.dtype == np.uint8
    # the first component separates the halves
    assert abs(int(rgb[:, :4, 0].mean()) - int(rgb[:, 4:, 0].mean())) > 150
    clusters = kmeans_map(feats, num_clusters=2)
    assert len(np.unique(clusters[:, :4])) == 1 and len(np.unique(clusters[:, 4:])) == 1
    assert clusters[0, 0] != clusters[0, -1]
    corr = correlation_map(feats, (0.0, 0.99))            # top-right token
    assert corr.shape == (6, 8) and corr[0, -1] == pytest.approx(1.0, abs=1e-5)
    assert corr[:, 4:].min() > 0.99 > corr[:, :4].max()


def test_cluster_colours_are_aligned_across_towers():
    reference = np.repeat(np.arange(4), 6).reshape(4, 6)
    permuted = np.array([2, 3, 0, 1])[reference]
    assert np.array_equal(align_labels(permuted, reference, 4), reference)


def test_panel_layout_and_errors():
    image = np.zeros((40, 30, 3), np.uint8)
    feats = [two_regions(16), two_regions(8, 3, 4)]
    panel = make_panel(image, feats, ['a', 'b'], cell=50, num_clusters=3,
                       labels=np.zeros((40, 30), np.uint8))
    assert panel.shape == panel_size(2, 50) + (3, ) and panel.dtype == np.uint8
    assert stack_panels([panel, panel]).shape[0] == 2 * panel.shape[0] + 4
    with pytest.raises(ValueError, match='2 dense maps but 1 names'):
        make_panel(image, feats, ['a'])
    with pytest.raises(ValueError, match='D x h x w tensor'):
        make_panel(image, [torch.zeros(1, 4, 3, 3)], ['a'])


def test_a_long_column_title_is_drawn_smaller_before_it_is_cut():
    assert fit_title('CLIP', 128) == ('CLIP', 0.4)
    text, scale = fit_title('CLIP + Refiner (InfoNCE)', 128)  # too wide at 0.4
    assert text == 'CLIP + Refiner (InfoNCE)' and scale < 0.4
    text, scale = fit_title('a title far too long for one narrow column of a panel', 128)
    assert 0 < len(text) < 50 and scale == 0.3
