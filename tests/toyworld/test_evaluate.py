"""The ToyWorld's training-free evaluations on maps whose right answer is known."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from refclip_mm.datasets.synthetic import SEMANTIC_CLASSES, THING_CLASSES, write_dataset
from refclip_mm.toyworld import load_eval_set, mean_std, ov_seg_miou, region_top1
from refclip_mm.toyworld.evaluate import confusion_miou, evaluate_tower, zero_shot_accuracy

NUM = len(SEMANTIC_CLASSES)


@pytest.fixture(scope='module')
def eval_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_eval'))
    write_dataset(root, dict(val=6), seed=7, image_ext='.png')
    return load_eval_set(root, 'val')


def oracle_maps(data, stride=8):
    """Dense maps that are the one-hot semantic label of each token's area (D = classes)."""
    onehot = F.one_hot(data.semantic, NUM).permute(0, 3, 1, 2).float()
    return F.avg_pool2d(onehot, stride)


def test_eval_set_matches_the_written_split(eval_set):
    assert eval_set.images.shape == (6, 3, 64, 64)
    assert eval_set.semantic.shape == (6, 64, 64)
    for boxes, labels, masks in zip(eval_set.boxes, eval_set.labels, eval_set.masks):
        assert len(boxes) == len(labels) == len(masks)
        for box, label, mask in zip(boxes, labels, masks):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [xs.min().item(), ys.min().item(), xs.max().item() + 1,
                                    ys.max().item() + 1]
    thing_pixels = torch.cat([m.any(0).flatten() for m in eval_set.masks if len(m)])
    assert thing_pixels.any()


def test_oracle_features_segment_and_classify_well(eval_set):
    maps = oracle_maps(eval_set)
    assert ov_seg_miou(maps, torch.eye(NUM), eval_set) > 60
    things = torch.eye(NUM)[len(SEMANTIC_CLASSES) - len(THING_CLASSES):]
    assert region_top1(maps, things, eval_set)['box'] > 50
    # at pixel resolution a mask pools only its own class
    scores = region_top1(oracle_maps(eval_set, stride=1), things, eval_set)
    assert scores['mask'] == 100.0 and scores['box'] > 80


def test_wrong_text_embeddings_score_low(eval_set):
    maps = oracle_maps(eval_set)
    shuffled = torch.eye(NUM).roll(1, 0)
    assert ov_seg_miou(maps, shuffled, eval_set) < 5
    with pytest.raises(ValueError, match='semantic-class embeddings'):
        ov_seg_miou(maps, torch.eye(3), eval_set)


def test_evaluate_tower_reports_every_metric(eval_set):
    metrics = evaluate_tower(lambda x: oracle_maps_like(x, eval_set), eval_set, torch.eye(NUM),
                             torch.eye(NUM)[len(SEMANTIC_CLASSES) - len(THING_CLASSES):])
    assert set(metrics) == {'unsup_miou', 'ov_seg_miou', 'box_top1', 'mask_top1', 'box_colour',
                            'box_shape', 'mask_colour', 'mask_shape'}
    assert metrics['mask_colour'] >= metrics['mask_top1'] and metrics['mask_shape'] >= metrics['mask_top1']
    assert metrics['mask_top1'] > 80 and metrics['unsup_miou'] > 30


def oracle_maps_like(images, data):
    # evaluate_tower feeds the images in order and in one batch for 6 images
    assert images.shape[0] == len(data)
    return oracle_maps(data)


def test_confusion_miou_and_mean_std():
    target = torch.tensor([[0, 0, 1, 1]])
    assert confusion_miou(target, target, 3) == 100.0
    assert confusion_miou(torch.tensor([[0, 0, 0, 1]]), target, 3) == pytest.approx((2 / 3 + 1 / 2) / 2 * 100)
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)))
    assert mean_std([5.0]) == (5.0, 0.0)


def test_zero_shot_of_an_oracle_encoder_is_perfect():
    from refclip_mm.toyworld.evaluate import single_object_scenes
    images, labels = single_object_scenes(20, seed=1)
    lookup = {tuple(img.flatten()[:64].tolist()): int(l) for img, l in zip(images, labels)}

    def encode(batch):
        return F.one_hot(torch.tensor([lookup[tuple(b.flatten()[:64].tolist())] for b in batch]),
                         len(THING_CLASSES)).float()
    assert zero_shot_accuracy(encode, torch.eye(len(THING_CLASSES)), num_images=20, seed=1) == dict(
        top1=100.0, colour=100.0, shape=100.0)


def test_zoomed_evaluation_with_probe_and_locality(eval_set):
    """At 3x the scenes' size an oracle tower still segments, the probe learns it, and a
    perfectly local feature has locality 0 while a globally pooled one is large."""
    from refclip_mm.toyworld.evaluate import scene_locality, scene_pairs
    from refclip_mm.toyworld.pipeline import pixel_patches

    def oracle(images):  # the label map of the scenes fed, at the tower's token grid
        assert images.shape[-1] == 192
        return F.interpolate(oracle_maps(eval_set), size=(24, 24), mode='nearest')

    things = torch.eye(NUM)[len(SEMANTIC_CLASSES) - len(THING_CLASSES):]
    pairs = scene_pairs(6, seed=3)
    metrics = evaluate_tower(oracle, eval_set, torch.eye(NUM), things, size=192,
                             probe_data=eval_set, pairs=(), restarts=2)
    assert metrics['probe_miou'] > 60 and metrics['unsup_miou'] > 30
    assert metrics['ov_seg_miou'] > 60
    assert abs(scene_locality(pixel_patches(8), pairs, 192)) < 1e-6

    def pooled(images):
        return pixel_patches(8)(images).mean((2, 3), keepdim=True).expand(-1, -1, 24, 24)
    assert scene_locality(pooled, pairs, 192) > 0.5  # every token changes alike
    without_text = evaluate_tower(pixel_patches(8), eval_set, None, None, size=64, pairs=pairs,
                                  restarts=2)
    assert set(without_text) == {'unsup_miou', 'locality'}


def test_scene_pairs_differ_only_in_their_mask_and_are_seeded():
    from refclip_mm.toyworld.evaluate import scene_pairs
    pairs = scene_pairs(4, seed=5)
    for a, b, mask in pairs:
        changed = (a != b).any(0).numpy()
        assert changed.any() and not (changed & ~mask).any()
    again = scene_pairs(4, seed=5)
    assert all(torch.equal(x[0], y[0]) and (x[2] == y[2]).all() for x, y in zip(pairs, again))
    assert not torch.equal(scene_pairs(1, seed=6)[0][0], pairs[0][0])
