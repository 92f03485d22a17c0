"""Dense InfoNCE loss and the contaminant filter."""
import math

import pytest
import torch
import torch.nn.functional as F

import refclip_mm  # noqa: F401
from refclip_mm.models.losses import DenseInfoNCELoss, contaminant_mask, dense_infonce_loss
from refclip_mm.registry import MODELS


def _tokens(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _direct(student, target, tau, valid=None):
    """Hand-written loop over boxes and rows."""
    terms = []
    for k in range(student.shape[0]):
        s, t = F.normalize(student[k], dim=-1), F.normalize(target[k], dim=-1)
        for i in range(s.shape[0]):
            cols = [j for j in range(t.shape[0]) if valid is None or valid[k, j]]
            if valid is not None and not valid[k, i]:
                continue
            logits = torch.stack([s[i] @ t[j] for j in cols]) / tau
            terms.append(-(logits[cols.index(i)] - torch.logsumexp(logits, 0)))
    return torch.stack(terms).mean()


def test_equals_direct_formula():
    student, target = _tokens(3, 9, 5, seed=0), _tokens(3, 9, 5, seed=1)
    loss = dense_infonce_loss(student, target, tau=0.2)
    assert torch.allclose(loss, _direct(student, target, 0.2), rtol=1e-5)
    assert torch.allclose(MODELS.build(dict(type='DenseInfoNCELoss', loss_weight=2.0))(
        student, target), 2 * loss)


def test_perfect_match_beats_shuffled_target():
    target = _tokens(2, 16, 32, seed=2)
    aligned = dense_infonce_loss(target.clone(), target)
    shuffled = dense_infonce_loss(target[:, torch.randperm(16)], target)
    assert aligned < shuffled
    assert aligned < math.log(16)


def test_valid_mask_drops_targets_as_positives_and_negatives():
    student, target = _tokens(2, 8, 6, seed=3), _tokens(2, 8, 6, seed=4)
    valid = torch.ones(2, 8, dtype=torch.bool)
    valid[0, [1, 5]] = False
    valid[1, 0] = False
    loss = dense_infonce_loss(student, target, 0.2, valid)
    assert torch.allclose(loss, _direct(student, target, 0.2, valid), rtol=1e-5)
    assert not torch.allclose(loss, dense_infonce_loss(student, target, 0.2), rtol=1e-3)
    # changing a dropped target token changes nothing
    target2 = target.clone()
    target2[0, 5] = 100.0 * _tokens(6, seed=5)
    assert torch.allclose(dense_infonce_loss(student, target2, 0.2, valid), loss)


def test_fully_dropped_box_contributes_nothing_and_no_nan():
    student = _tokens(2, 5, 4, seed=6).requires_grad_(True)
    target = _tokens(2, 5, 4, seed=7)
    valid = torch.ones(2, 5, dtype=torch.bool)
    valid[1] = False
    loss = dense_infonce_loss(student, target, 0.2, valid)
    loss.backward()
    assert torch.allclose(loss, dense_infonce_loss(student[:1], target[:1]), rtol=1e-6)
    assert torch.isfinite(student.grad).all()
    assert student.grad[1].abs().max() == 0 and student.grad[0].abs().max() > 0


def test_all_dropped_returns_zero_with_grad():
    student = _tokens(2, 5, 4, seed=8).requires_grad_(True)
    loss = dense_infonce_loss(student, _tokens(2, 5, 4, seed=9), 0.2,
                              torch.zeros(2, 5, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(student.grad, torch.zeros_like(student))


def test_zero_boxes_return_zero_with_grad():
    student = torch.zeros(0, 4, 3, requires_grad=True)
    loss = DenseInfoNCELoss()(student, torch.zeros(0, 4, 3))
    assert loss.item() == 0.0 and loss.requires_grad


def test_contaminant_mask_definition():
    # image 0: token 0 duplicates a token of image 1 (cos 1), the others are orthogonal-ish noise
    dim = 64
    basis = torch.eye(dim)
    img0 = torch.stack([basis[40]] + [basis[i] for i in range(1, 8)])
    img1 = torch.stack([basis[40]] + [basis[i] for i in range(20, 27)])
    mask = contaminant_mask(torch.stack([img0, img1]))
    assert mask.shape == (2, 8) and mask.dtype == torch.bool
    assert mask[0].tolist() == [True] + [False] * 7
    assert mask[1].tolist() == [True] + [False] * 7
    # matches a direct computation of mean + k std of the per-token best cosines
    tokens = _tokens(3, 10, 8, seed=10)
    t = F.normalize(tokens, dim=-1)
    for k_std in (0.0, 0.5, 1.0):
        got = contaminant_mask(tokens, k_std)
        for b in range(3):
            best = (t[b] @ t[(b + 1) % 3].T).max(-1).values
            thr = best.mean() + k_std * best.std(unbiased=False)
            assert got[b].tolist() == (best > thr).tolist()


def test_contaminant_mask_partner_and_errors():
    tokens = _tokens(3, 6, 4, seed=11)
    t = F.normalize(tokens, dim=-1)
    got = contaminant_mask(tokens, partner=torch.tensor([2, 2, 0]))
    best = (t[1] @ t[2].T).max(-1).values
    assert got[1].tolist() == (best > best.mean() + 0.5 * best.std(unbiased=False)).tolist()
    with pytest.raises(ValueError, match='at least 2 items'):
        contaminant_mask(tokens[:1])
    with pytest.raises(ValueError, match='own unrelated partner.*\\[1\\]'):
        contaminant_mask(tokens, partner=torch.tensor([2, 1, 0]))


def test_module_drops_contaminants():
    student, target = _tokens(3, 10, 8, seed=12), _tokens(3, 10, 8, seed=13)
    keep = ~contaminant_mask(target)
    loss = DenseInfoNCELoss(drop_contaminants=True)(student, target)
    assert torch.allclose(loss, dense_infonce_loss(student, target, 0.2, keep))
    assert not torch.allclose(loss, dense_infonce_loss(student, target, 0.2))


def test_errors():
    with pytest.raises(ValueError, match=r'channels D 4 vs 5'):
        dense_infonce_loss(torch.randn(2, 3, 4), torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r'valid_mask must have shape K x N = \(2, 3\)'):
        dense_infonce_loss(torch.randn(2, 3, 4), torch.randn(2, 3, 4),
                           valid_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match='tau must be a positive'):
        DenseInfoNCELoss(tau=0)


def test_cosine_loss_is_one_minus_the_mean_token_cosine_and_respects_the_mask():
    from refclip_mm.models.losses import dense_cosine_loss
    student, target = _tokens(3, 5, 8, seed=1), _tokens(3, 5, 8, seed=2)
    cos = F.cosine_similarity(student, target, dim=-1)
    assert torch.isclose(dense_cosine_loss(student, target), 1 - cos.mean())
    valid = torch.rand(3, 5, generator=torch.Generator().manual_seed(3)) > 0.4
    assert torch.isclose(dense_cosine_loss(student, target, valid), 1 - cos[valid].mean())
    assert torch.isclose(dense_cosine_loss(2.0 * target, target), torch.tensor(0.0), atol=1e-6)
    nothing = dense_cosine_loss(student.requires_grad_(), target, torch.zeros(3, 5, dtype=bool))
    assert nothing.item() == 0 and nothing.requires_grad


def test_cosine_loss_sees_a_drift_that_the_infonce_rewards():
    """Nearly parallel targets (a shared direction plus small differences): a student that
    keeps only the differences has a lower InfoNCE than the targets themselves, though it has
    left them (cosine near 0); the cosine loss ranks the two the other way."""
    shared = F.normalize(_tokens(1, 1, 32, seed=4), dim=-1)
    differences = _tokens(2, 8, 32, seed=5)
    differences = differences - (differences * shared).sum(-1, keepdim=True) * shared
    target = shared + 0.1 * F.normalize(differences, dim=-1)
    drifted = differences
    cosine = MODELS.build(dict(type='DenseCosineLoss', loss_weight=2.0))
    assert dense_infonce_loss(drifted, target) < dense_infonce_loss(target, target)
    assert cosine(drifted, target) > 1.5 and cosine(target, target) < 1e-6
