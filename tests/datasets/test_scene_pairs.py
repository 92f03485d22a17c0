"""Scene pairs that differ in exactly one object (the locality index's generated pairs)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from refclip_mm.datasets.synthetic import (COLOURS, SceneConfig, render_scene, render_scene_pair,
                                           sample_layout)
from refclip_mm.evaluation import tower_locality


@pytest.mark.parametrize('change', ['swap', 'remove'])
def test_a_pair_differs_in_the_last_object_only(change):
    cfg = SceneConfig(image_size=64, objects_per_image=(2, 3))
    for seed in range(20):
        a, b, mask = render_scene_pair(np.random.default_rng(seed), cfg, change)
        last = sample_layout(np.random.default_rng(seed), cfg).objects[-1]
        box = np.zeros_like(mask)
        box[last['y0']:last['y0'] + last['side'], last['x0']:last['x0'] + last['side']] = True
        assert mask.any() and not (mask & ~box).any()  # nothing changes outside the object
        assert (a.image[~mask] == b.image[~mask]).all()
        assert (a.semantic[mask] != b.semantic[mask]).any()
        if change == 'swap':
            old, new = a.instances[-1]['category'], b.instances[-1]['category']
            assert old // len(COLOURS) != new // len(COLOURS)  # another shape
            assert old % len(COLOURS) != new % len(COLOURS)  # and another colour


def test_render_scene_is_the_first_of_a_pair():
    a, _, _ = render_scene_pair(np.random.default_rng(7), SceneConfig(), 'swap')
    assert (a.image == render_scene(np.random.default_rng(7)).image).all()


def test_locality_on_scene_pairs_is_zero_for_a_per_patch_feature():
    pairs = []
    for seed in range(8):
        a, b, mask = render_scene_pair(np.random.default_rng(seed), SceneConfig(image_size=64))
        to = lambda im: torch.from_numpy(im).permute(2, 0, 1).float() / 255 - 0.5  # noqa: E731
        pairs.append((to(a.image), to(b.image), mask))
    result = tower_locality(lambda x: F.avg_pool2d(x, 8), pairs)
    assert result.index < 1e-6 and result.near_change > 0
