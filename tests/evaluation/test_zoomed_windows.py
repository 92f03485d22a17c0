import pytest
import torch
import torch.nn.functional as F

from refclip_mm.clip import build_image_tower
from refclip_mm.clip.tiny import tiny_arch
from refclip_mm.evaluation import zoomed_windows
from refclip_mm.models.dense_source import find_dense_fn


def mean_colour(images):
    """A global feature: every token is the image's mean colour (B x 3 x H/8 x W/8)."""
    b, c, h, w = images.shape
    return images.mean(dim=(2, 3), keepdim=True).expand(b, c, h // 8, w // 8)


def test_each_window_is_described_by_its_own_pixels():
    images = torch.zeros(1, 3, 32, 32)
    images[:, 0, :16, :16] = 1.0                  # red top-left window
    images[:, 2, 16:, 16:] = 1.0                  # blue bottom-right window
    dense = zoomed_windows(mean_colour, 2)(images)
    assert dense.shape == (1, 3, 4, 4)
    assert dense.is_contiguous()
    torch.testing.assert_close(dense[0, :, :2, :2], torch.tensor([1., 0, 0])[:, None, None]
                               .expand(3, 2, 2))
    torch.testing.assert_close(dense[0, :, 2:, 2:], torch.tensor([0., 0, 1])[:, None, None]
                               .expand(3, 2, 2))
    assert dense[0, :, :2, 2:].abs().max() == 0 and dense[0, :, 2:, :2].abs().max() == 0
    # the global feature itself mixes both windows everywhere
    assert mean_colour(images)[0, 0, 3, 3] > 0


def test_a_window_change_stays_in_the_window_on_a_clip_tower():
    torch.manual_seed(0)
    tower = build_image_tower(tiny_arch()).eval()
    fn = zoomed_windows(find_dense_fn(tower), 2)
    images = torch.randn(2, 3, 64, 64)
    changed = images.clone()
    changed[:, :, :32, 32:] = torch.randn(2, 3, 32, 32)   # top-right window only
    with torch.no_grad():
        before, after = fn(images), fn(changed)
    h = before.shape[-1] // 2
    assert before.shape == find_dense_fn(tower)(images).shape
    assert (after[..., :h, h:] - before[..., :h, h:]).abs().max() > 1e-3
    for rows, cols in ((slice(0, h), slice(0, h)), (slice(h, None), slice(0, h)),
                       (slice(h, None), slice(h, None))):
        torch.testing.assert_close(after[..., rows, cols], before[..., rows, cols])


def test_one_window_is_the_function_itself_and_zoom_is_bilinear():
    assert zoomed_windows(mean_colour, 1) is mean_colour
    images = torch.rand(1, 3, 16, 16)
    dense = zoomed_windows(lambda x: x, 2)(images)       # tokens = pixels, pooled back
    zoomed = F.interpolate(images[..., :8, :8], size=(16, 16), mode='bilinear',
                           align_corners=False)
    torch.testing.assert_close(dense[..., :8, :8], F.adaptive_avg_pool2d(zoomed, 8))


@pytest.mark.parametrize('windows', [0, -1, 1.5])
def test_a_bad_window_count_is_refused(windows):
    with pytest.raises(ValueError, match='windows'):
        zoomed_windows(mean_colour, windows)


def test_sizes_that_do_not_split_are_refused():
    with pytest.raises(ValueError, match='not divisible'):
        zoomed_windows(mean_colour, 3)(torch.zeros(1, 3, 32, 32))
