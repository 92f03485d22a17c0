import numpy as np
import pytest
import torch

from refclip_mm.evaluation import (evaluate_dense_features, hungarian_match, scores_from_confusion,
                                   spherical_kmeans)
from refclip_mm.evaluation.unsupervised_seg import cluster_label_map
from .conftest import NUM_CLASSES, oracle_feats


def test_kmeans_recovers_separated_clusters_and_is_seeded():
    g = torch.Generator().manual_seed(0)
    centers = torch.nn.functional.normalize(torch.randn(5, 16, generator=g), dim=1)
    truth = torch.arange(500) % 5
    x = centers[truth] + 0.05 * torch.randn(500, 16, generator=g)
    fit = spherical_kmeans(x, 5, seed=3)
    # every found cluster is pure
    for c in range(5):
        assert len(torch.unique(truth[fit.labels == c])) == 1
    again = spherical_kmeans(x, 5, seed=3)
    assert torch.equal(fit.labels, again.labels) and torch.equal(fit.centers, again.centers)
    with pytest.raises(ValueError, match='cannot make 600 clusters'):
        spherical_kmeans(x, 600)


@pytest.mark.parametrize('upsample', ['bilinear', 'nearest'])
def test_oracle_tower_scores_near_100_at_low_noise_and_falls_with_noise(labels, upsample):
    scores = []
    for noise in (0.05, 1.0, 2.0, 6.0):
        result = evaluate_dense_features(oracle_feats(labels, noise), labels, NUM_CLASSES,
                                         upsample=upsample, seed=0)
        scores.append(result.miou)
    # nearest keeps the token blocks exactly; bilinear rounds the corners where three blocks meet
    assert scores[0] == 100.0 if upsample == 'nearest' else scores[0] > 98.5
    assert scores[0] > scores[1] > scores[2] > scores[3]
    assert scores[3] < 50


def test_hungarian_finds_a_permuted_labelling(labels):
    perm = torch.randperm(NUM_CLASSES, generator=torch.Generator().manual_seed(7))
    assert not torch.equal(perm, torch.arange(NUM_CLASSES))
    permuted = [perm[lab] for lab in labels]
    result = evaluate_dense_features(oracle_feats(labels, 0.05), permuted, NUM_CLASSES,
                                     upsample='nearest')
    assert result.miou == 100.0 and result.pixel_acc == 100.0
    # each cluster is mapped to the permuted class of its true class
    assert sorted(result.mapping.tolist()) == list(range(NUM_CLASSES))
    identity = scores_from_confusion(result.confusion, np.arange(NUM_CLASSES))
    assert np.nanmean(identity['iou']) < 0.5  # without matching the scores would be poor


def test_hungarian_match_on_a_known_confusion():
    perm = np.array([2, 0, 3, 1])
    confusion = np.zeros((4, 4), np.int64)
    confusion[np.arange(4), perm] = [50, 40, 30, 20]
    confusion[0, 1] = 10   # a distractor smaller than the diagonal
    assert hungarian_match(confusion).tolist() == perm.tolist()
    # more clusters than classes: the extra cluster stays unmatched and counts as errors
    extra = np.vstack([confusion, [[5, 0, 0, 0]]])
    mapping = hungarian_match(extra)
    assert mapping.tolist() == perm.tolist() + [-1]
    scores = scores_from_confusion(extra, mapping)
    assert scores['pixel_acc'] == pytest.approx(140 / 155)


def test_ignore_index_and_absent_classes(labels):
    feats = oracle_feats(labels[:4], 0.05)
    labs = [lab.clone() for lab in labels[:4]]
    for lab in labs:
        lab[:5] = 255
    result = evaluate_dense_features(feats, [lab.numpy().astype(np.uint8) for lab in labs], 40)
    assert result.confusion.sum() == sum(int((lab != 255).sum()) for lab in labs)
    assert result.confusion.shape == (40, 40)
    present = set(torch.cat([lab[lab != 255] for lab in labs]).tolist())
    assert np.isfinite(result.per_class_iou).sum() == len(present)


def test_deterministic_given_seed(labels):
    feats = oracle_feats(labels, 1.5)
    a = evaluate_dense_features(feats, labels, NUM_CLASSES, seed=1, max_tokens=500)
    b = evaluate_dense_features(feats, labels, NUM_CLASSES, seed=1, max_tokens=500)
    assert a.num_sampled == 500 and a.num_tokens == len(labels) * 64
    assert np.array_equal(a.confusion, b.confusion) and a.miou == b.miou


def test_bilinear_upsampling_follows_the_token_grid():
    centers = torch.eye(2)
    feats = torch.zeros(2, 2, 2)
    feats[0, :, 0] = 1   # left column: cluster 0
    feats[1, :, 1] = 1   # right column: cluster 1
    out = cluster_label_map(feats, centers, (6, 10))
    assert (out[:, :5] == 0).all() and (out[:, 5:] == 1).all()
    small_chunks = cluster_label_map(feats, centers, (6, 10), max_elements=60)
    assert torch.equal(out, small_chunks)


def test_errors_name_what_to_fix(labels):
    feats = oracle_feats(labels[:2], 0.1)
    bad = labels[1].clone()
    bad[0, 0] = 30
    with pytest.raises(ValueError, match=r'b\.png contains class 30, outside 0\.\.11'):
        evaluate_dense_features(feats, [labels[0], bad], NUM_CLASSES, names=['a.png', 'b.png'])
    with pytest.raises(ValueError, match='must be a D x h x w tensor'):
        evaluate_dense_features([feats[0][None]], labels[:1], NUM_CLASSES)
    with pytest.raises(ValueError, match='num_clusters=5 is smaller than num_classes=12'):
        evaluate_dense_features(feats, labels[:2], NUM_CLASSES, num_clusters=5)
    with pytest.raises(ValueError, match='have 16 channels but earlier images had 32'):
        evaluate_dense_features([feats[0], feats[1][:16]], labels[:2], NUM_CLASSES)
