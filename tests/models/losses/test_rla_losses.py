"""CLIPSelf and RegionCLIP losses."""
import math

import pytest
import torch
import torch.nn.functional as F

import refclip_mm  # noqa: F401
from refclip_mm.models.losses import (CLIPSelfLoss, RegionCLIPLoss, clipself_loss,
                                      concept_pseudo_labels, regionclip_loss)
from refclip_mm.registry import MODELS


def test_clipself_hand_values():
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    teacher = torch.tensor([[2.0, 0.0], [1.0, 0.0], [-1.0, -1.0]])
    # cosines 1, 0, -1 -> mean 0 -> loss 1
    assert torch.allclose(clipself_loss(student, teacher), torch.tensor(1.0))
    assert torch.allclose(clipself_loss(student[:1], teacher[:1]), torch.tensor(0.0))
    loss_fn = MODELS.build(dict(type='CLIPSelfLoss', loss_weight=0.5))
    assert isinstance(loss_fn, CLIPSelfLoss)
    assert torch.allclose(loss_fn(student[:2], teacher[:2]), torch.tensor(0.25))


def test_clipself_gradient_only_to_student_and_zero_boxes():
    student = torch.randn(4, 8, requires_grad=True)
    teacher = torch.randn(4, 8, requires_grad=True)
    clipself_loss(student, teacher).backward()
    assert student.grad.abs().sum() > 0 and teacher.grad is None
    empty = torch.zeros(0, 8, requires_grad=True)
    loss = clipself_loss(empty, torch.zeros(0, 8))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()


def test_clipself_errors():
    with pytest.raises(ValueError, match=r'\(4, 8\) and \(4, 6\)'):
        clipself_loss(torch.randn(4, 8), torch.randn(4, 6))
    with pytest.raises(ValueError, match=r'K x D; got \(2, 4, 8\)'):
        clipself_loss(torch.randn(2, 4, 8), torch.randn(2, 4, 8))


def test_regionclip_hand_value_with_labels():
    regions = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    concepts = torch.tensor([[2.0, 0.0], [0.0, 5.0]])
    labels = torch.tensor([0, 1])
    c = 1 / math.sqrt(2)
    # row 0: cos (1, 0) ; row 1: cos (c, c); scale 10
    expected = (-math.log(math.exp(10) / (math.exp(10) + 1))
                - math.log(math.exp(10 * c) / (2 * math.exp(10 * c)))) / 2
    loss = regionclip_loss(regions, concepts, labels=labels, logit_scale=10.0)
    assert math.isclose(loss.item(), expected, rel_tol=1e-5)
    module = RegionCLIPLoss(logit_scale=10.0, loss_weight=2.0)
    assert math.isclose(module(regions, concepts, labels=labels).item(), 2 * expected,
                        rel_tol=1e-5)


def test_regionclip_pseudo_labels_from_teacher():
    concepts = F.normalize(torch.randn(5, 16), dim=-1)
    teacher = concepts[[3, 0, 3, 4]] + 0.01 * torch.randn(4, 16)
    assert concept_pseudo_labels(teacher, concepts).tolist() == [3, 0, 3, 4]
    regions = torch.randn(4, 16, requires_grad=True)
    loss = regionclip_loss(regions, concepts, teacher=teacher)
    direct = F.cross_entropy(100 * F.normalize(regions, dim=-1) @ concepts.T,
                             torch.tensor([3, 0, 3, 4]))
    assert torch.allclose(loss, direct, rtol=1e-5)
    loss.backward()
    assert regions.grad.abs().sum() > 0


def test_regionclip_model_logit_scale_gets_gradient():
    log_scale = torch.tensor(math.log(50.0), requires_grad=True)
    regions, concepts = torch.randn(3, 8), torch.randn(4, 8)
    loss = MODELS.build(dict(type='RegionCLIPLoss'))(
        regions, concepts, labels=torch.tensor([0, 1, 2]), logit_scale=log_scale.exp())
    expected = regionclip_loss(regions, concepts, labels=torch.tensor([0, 1, 2]),
                               logit_scale=50.0)
    assert torch.allclose(loss, expected, rtol=1e-5)
    loss.backward()
    assert log_scale.grad is not None and log_scale.grad.abs() > 0


def test_regionclip_zero_boxes_keep_graph():
    regions = torch.zeros(0, 8, requires_grad=True)
    loss = regionclip_loss(regions, torch.randn(3, 8), teacher=torch.zeros(0, 8))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert regions.grad.shape == (0, 8)


def test_regionclip_errors():
    regions, concepts = torch.randn(3, 8), torch.randn(4, 8)
    with pytest.raises(ValueError, match='concept set is empty'):
        regionclip_loss(regions, torch.zeros(0, 8), labels=torch.tensor([0, 0, 0]))
    with pytest.raises(ValueError, match='D=8 channels but the concept embeddings have D=6'):
        regionclip_loss(regions, torch.randn(4, 6), labels=torch.tensor([0, 0, 0]))
    with pytest.raises(ValueError, match='D=5 channels but the concept embeddings have D=8'):
        regionclip_loss(regions, concepts, teacher=torch.randn(3, 5))
    with pytest.raises(ValueError, match='exactly one of teacher'):
        regionclip_loss(regions, concepts)
    with pytest.raises(ValueError, match='3 region features but 2 teacher'):
        regionclip_loss(regions, concepts, teacher=torch.randn(2, 8))
    with pytest.raises(ValueError, match=r'labels must lie in \[0, 3\]'):
        regionclip_loss(regions, concepts, labels=torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match='not its log'):
        RegionCLIPLoss(logit_scale=0.0)


def test_regionclip_with_a_sigmoid_clips_bias_is_binary_cross_entropy():
    torch.manual_seed(0)
    regions, concepts = torch.randn(3, 8), torch.randn(5, 8)
    labels = torch.tensor([0, 4, 2])
    cos = F.normalize(regions, dim=-1) @ F.normalize(concepts, dim=-1).t()
    z = 10.0 * cos - 2.0
    expected = -(F.logsigmoid(z[torch.arange(3), labels]).sum()
                 + F.logsigmoid(-z).sum() - F.logsigmoid(-z[torch.arange(3), labels]).sum()) / 3
    loss = regionclip_loss(regions, concepts, labels=labels, logit_scale=10.0, logit_bias=-2.0)
    torch.testing.assert_close(loss, expected)
    module = RegionCLIPLoss(logit_scale=10.0, logit_bias=-2.0, loss_weight=2.0)
    torch.testing.assert_close(module(regions, concepts, labels=labels), 2 * expected)
    softmax = regionclip_loss(regions, concepts, labels=labels, logit_scale=10.0)
    torch.testing.assert_close(softmax, F.cross_entropy(10.0 * cos, labels))
    assert not torch.allclose(softmax, loss)
