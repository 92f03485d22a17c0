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


def test_crop_captions_name_what_the_crop_shows():
    from refclip_mm.datasets.scene_captions import SyntheticCaptionDataset, random_crop_box
    from refclip_mm.datasets.synthetic import THING_CLASSES
    whole = SyntheticCaptionDataset(40, seed=3)
    same = SyntheticCaptionDataset(40, seed=3, crop=dict(scale=(1.0, 1.0), ratio=(1.0, 1.0)))
    cropped = SyntheticCaptionDataset(40, seed=3, crop=dict(scale=(0.1, 0.3)))
    assert all((whole[i]['img'] == same[i]['img']).all() and whole[i]['caption'] == same[i]['caption']
               for i in range(5))
    dropped = 0
    for i in range(40):
        scene = whole.render(i)
        info = cropped.get_data_info(i)
        x, y, w, h = random_crop_box(np.random.default_rng([3, i, 1]), 64, (0.1, 0.3), (0.75, 4 / 3))
        for inst in scene.instances:
            inside = inst['mask'][y:y + h, x:x + w].sum() / inst['mask'].sum()
            named = f'a {THING_CLASSES[inst["category"]]}' in info['caption']
            if inside == 1.0:
                assert named, (i, info['caption'])
            if inside == 0.0:
                assert not named or sum(THING_CLASSES[j['category']] == THING_CLASSES[inst['category']]
                                        for j in scene.instances) > 1
                dropped += 1
        assert info['caption'].endswith(scene.caption.rsplit(' on ', 1)[1])  # same background
        assert info['img'].shape == (64, 64, 3)
    assert dropped > 0  # small crops do leave objects out
    with pytest.raises(ValueError, match='unknown crop keys'):
        SyntheticCaptionDataset(4, crop=dict(size=3))
