"""The locality index, the linear probe, k-means restarts and the pre-registered decision rule."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from refclip_mm.evaluation.decision import decide, detectable_effect, seeds_needed
from refclip_mm.evaluation.linear_probe import linear_probe_segmentation
from refclip_mm.evaluation.locality import far_tokens, paste_pairs, token_mask, tower_locality
from refclip_mm.evaluation.unsupervised_seg import evaluate_dense_features, evaluate_over_restarts


def _images(n=6, size=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def _tensor_pairs(pairs):
    to = lambda im: torch.from_numpy(im).permute(2, 0, 1).float() / 255 - 0.5  # noqa: E731
    return [(to(a), to(b), m) for a, b, m in pairs]


def per_patch(x):
    """Each token sees only its own 8 x 8 patch."""
    return F.avg_pool2d(x, 8)


def global_pooled(x):
    """Each token is the image mean plus a weak local part."""
    local = F.avg_pool2d(x, 8)
    return local * 0.01 + x.mean((2, 3), keepdim=True)


def test_far_tokens_keep_the_chebyshev_distance():
    near = torch.zeros(8, 8, dtype=torch.bool)
    near[3:5, 3:5] = True
    far = far_tokens(near, 2)
    assert not far[2:6, 2:6].any() and far[1, :].all() and far[:, 6].all()
    mask = np.zeros((64, 64), bool)
    mask[20:30, 20:30] = True
    assert token_mask(mask, (8, 8)).nonzero().tolist() == [[2, 2], [2, 3], [3, 2], [3, 3]]


def test_locality_is_zero_for_a_per_patch_feature_and_large_for_a_pooled_one():
    pairs = _tensor_pairs(paste_pairs(_images(), 12, seed=1))
    local = tower_locality(per_patch, pairs)
    pooled = tower_locality(global_pooled, pairs)
    assert local.index < 1e-6 and local.near_change > 0.1
    assert pooled.index > 0.5
    assert len(pooled.per_pair) == 12


def test_paste_pairs_change_only_the_mask_and_are_seeded():
    pairs = paste_pairs(_images(), 5, seed=3)
    for a, b, mask in pairs:
        assert (a[~mask] == b[~mask]).all() and mask.any()
    again = paste_pairs(_images(), 5, seed=3)
    assert all((p[2] == q[2]).all() and (p[1] == q[1]).all() for p, q in zip(pairs, again))


def _label_maps(n, rng, num_classes=4):
    """Blocky label maps (8 x 8 cells) at 64 px and their token grid."""
    grids = [rng.integers(0, num_classes, (8, 8)) for _ in range(n)]
    full = [np.kron(g, np.ones((8, 8), np.int64)) for g in grids]
    return grids, full


def test_linear_probe_separates_features_that_encode_the_label():
    rng = np.random.default_rng(0)
    grids, labels = _label_maps(16, rng)
    encoded = [torch.from_numpy(np.eye(4)[g].transpose(2, 0, 1)).float()
               + 0.3 * torch.from_numpy(rng.standard_normal((4, 8, 8))).float() for g in grids]
    unrelated = [torch.from_numpy(rng.standard_normal((4, 8, 8))).float() for _ in grids]
    good = linear_probe_segmentation(encoded[:10], labels[:10], encoded[10:], labels[10:], 4)
    bad = linear_probe_segmentation(unrelated[:10], labels[:10], unrelated[10:], labels[10:], 4)
    assert good.miou > 60 and bad.miou < 30  # bilinear logits blur the 8 px cell borders
    again = linear_probe_segmentation(encoded[:10], labels[:10], encoded[10:], labels[10:], 4)
    assert again.miou == good.miou  # deterministic for a seed


def test_restarts_average_seeded_runs():
    rng = np.random.default_rng(1)
    grids, labels = _label_maps(6, rng)
    feats = [torch.from_numpy(np.eye(4)[g].transpose(2, 0, 1)).float()
             + 0.8 * torch.from_numpy(rng.standard_normal((4, 8, 8))).float() for g in grids]
    res = evaluate_over_restarts(feats, labels, 4, restarts=3, seed=5)
    single = [evaluate_dense_features(feats, labels, 4, seed=s).miou for s in (5, 6, 7)]
    assert res.mious == single and res.miou == pytest.approx(np.mean(single))
    assert res.miou_std == pytest.approx(np.std(single, ddof=1))


def test_decision_rule_on_constructed_cases():
    clear = [1.0, 1.2, 0.9, 1.1, 1.05]
    assert decide(clear, +1).verdict == 'holds'
    assert decide(clear, -1).verdict == 'contradicted'
    mixed = decide([1.0, -1.0, 0.5, -0.4, 0.2], +1)
    assert mixed.verdict == 'undecided' and mixed.low < 0 < mixed.high
    assert 0 < mixed.detectable < float('inf') and mixed.agreeing == 3
    assert decide([2.0], +1).verdict == 'undecided'  # one seed decides nothing
    n = seeds_needed(std=1.5, effect=2.0)
    assert detectable_effect(1.5, n) <= 2.0 < detectable_effect(1.5, n - 1)
    with pytest.raises(ValueError, match='claimed_sign'):
        decide(clear, 0)
