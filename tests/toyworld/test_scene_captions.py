"""Scene-caption pairs drawn on the fly for stage 0."""
import pytest

from refclip_mm.datasets import SyntheticCaptionDataset


def test_items_are_deterministic_bgr_and_captioned():
    pipeline = [dict(type='refclip_mm.PackImageInputs', meta_keys=('caption', 'img_shape'))]
    a = SyntheticCaptionDataset(num_samples=6, seed=5, pipeline=pipeline)
    b = SyntheticCaptionDataset(num_samples=6, seed=5, pipeline=pipeline)
    assert len(a) == 6
    for index in (0, 5):
        x, y = a[index], b[index]
        assert (x['inputs'] == y['inputs']).all()
        assert x['data_samples'].caption == y['data_samples'].caption
        scene = a.render(index)
        assert x['data_samples'].caption == scene.caption
        # channels are BGR, like an image loaded from disk
        assert (x['inputs'].numpy() == scene.image[..., ::-1].transpose(2, 0, 1)).all()
    assert a[0]['data_samples'].caption != a[1]['data_samples'].caption or \
        (a[0]['inputs'] != a[1]['inputs']).any()


def test_scene_options_reach_the_renderer():
    data = SyntheticCaptionDataset(num_samples=2, scene_cfg=dict(image_size=32,
                                                                 objects_per_image=[2, 2]))
    info = data.get_data_info(0)
    assert info['img'].shape == (32, 32, 3)
    assert info['caption'].startswith('a photo of a ')


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_samples=0), 'num_samples'),
    (dict(num_samples=2, scene_cfg=dict(size=64)), 'unknown scene_cfg fields'),
])
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticCaptionDataset(**kwargs)
