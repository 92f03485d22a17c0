"""The ToyWorld generator: masks, boxes, semantic maps and captions agree; the split is disjoint."""
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from refclip_mm.datasets.synthetic import (NOVEL_THING_CLASSES, STUFF_CLASSES, STUFF_TEXTURES,
                                           THING_CLASSES, SceneConfig, render_scene, write_dataset)


def scenes(count=40, seed=3, **cfg):
    rng = np.random.default_rng(seed)
    return [render_scene(rng, SceneConfig(**cfg)) for _ in range(count)]


def test_masks_boxes_and_semantic_map_agree():
    for scene in scenes(objects_per_image=(1, 5)):
        owned = np.zeros(scene.semantic.shape, bool)
        for inst in scene.instances:
            mask = inst['mask']
            assert mask.sum() >= 4
            assert not (owned & mask).any()  # visible parts never overlap
            owned |= mask
            ys, xs = np.nonzero(mask)
            x, y, w, h = inst['bbox']
            assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
            assert (scene.semantic[mask] == len(STUFF_CLASSES) + inst['category']).all()
        # pixels no instance owns are the background stuff class
        stuff = scene.semantic[~owned]
        assert stuff.size == 0 or (len(set(stuff.tolist())) == 1 and stuff.max() < len(STUFF_CLASSES))


def test_caption_names_exactly_what_is_visible():
    for scene in scenes():
        named = {THING_CLASSES[i['category']] for i in scene.instances}
        body = scene.caption[len('a photo of '):]
        objects, _, stuff = body.rpartition(' on ')
        assert stuff in STUFF_CLASSES and (scene.semantic == STUFF_CLASSES.index(stuff)).any()
        listed = {part[len('a '):] for part in objects.split(' and ')}
        assert listed == named


def test_occlusion_and_scale_vary():
    drawn = scenes(count=200, objects_per_image=(2, 4), object_scale=(0.2, 0.55))
    areas = [i['mask'].sum() for s in drawn for i in s.instances]
    assert max(areas) > 4 * min(areas)
    # objects overlap (their boxes intersect) while their visible masks stay disjoint

    def intersect(a, b):
        return (a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3]
                and b[1] < a[1] + a[3])
    assert any(intersect(p['bbox'], q['bbox']) for s in drawn for p in s.instances
               for q in s.instances if p is not q)


def test_stuff_textures_differ_and_can_be_switched_off():
    rng = np.random.default_rng(0)
    flat = render_scene(rng, SceneConfig(objects_per_image=(0, 0), texture_contrast=0,
                                         texture_noise=0))
    assert len(np.unique(flat.image.reshape(-1, 3), axis=0)) == 1
    textured = render_scene(np.random.default_rng(0),
                            SceneConfig(objects_per_image=(0, 0), texture_noise=0))
    assert len(np.unique(textured.image.reshape(-1, 3), axis=0)) >= 2
    assert set(STUFF_TEXTURES) == set(STUFF_CLASSES) and len(set(STUFF_TEXTURES.values())) == 4


def test_same_seed_same_scenes_other_seed_other_scenes():
    a, b, c = scenes(5, seed=1), scenes(5, seed=1), scenes(5, seed=2)
    assert all((x.image == y.image).all() and x.caption == y.caption for x, y in zip(a, b))
    assert any((x.image != y.image).any() for x, y in zip(a, c))


def test_written_dataset_is_consistent_and_split_disjoint(tmp_path):
    root = str(tmp_path)
    summary = write_dataset(root, dict(train=10, val=5), seed=4)
    with open(osp.join(root, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    with open(osp.join(root, 'annotations', 'captions_val.json')) as f:
        captions = {c['image_id']: c['caption'] for c in json.load(f)['annotations']}
    assert summary['val'] == dict(images=5, instances=len(coco['annotations']))
    names = {c['id']: c['name'] for c in coco['categories']}
    novel = {c['name'] for c in coco['categories'] if c['split'] == 'novel'}
    base = {c['name'] for c in coco['categories'] if c['split'] == 'base'}
    assert novel == set(NOVEL_THING_CLASSES) and not novel & base
    assert novel | base == set(THING_CLASSES) and len(novel) == 5
    for ann in coco['annotations']:
        mask = mask_utils.decode(ann['segmentation']).astype(bool)
        ys, xs = np.nonzero(mask)
        x, y, w, h = ann['bbox']
        assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert ann['area'] == mask.sum()
        assert names[ann['category_id']] in captions[ann['image_id']]
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        train_ids = {i['id'] for i in json.load(f)['images']}
    assert not train_ids & {i['id'] for i in coco['images']}


def test_unknown_texture_is_named():
    from refclip_mm.datasets.synthetic import _stuff_texture
    with pytest.raises(ValueError, match='unknown texture'):
        _stuff_texture('plaid', 8, np.random.default_rng(0))
