"""Stage-1 model: boxes, crops, losses, frozen tower, learning on a fixed batch."""
import pytest
import torch

from refclip_mm.clip import TINY_OPENAI_ARCH
from refclip_mm.models.scd_term import SCDTerm
from refclip_mm.models.trainers import RefinerTrainer, sample_local_boxes
from refclip_mm.models.trainers.boxes import sample_grid_boxes, seeded_generator


def tiny_trainer(**kwargs):
    torch.manual_seed(0)
    return RefinerTrainer(clip_model=TINY_OPENAI_ARCH, grid_size=4,
                          refiner=dict(type='Refiner', depth=2, num_heads=4, mlp_ratio=2.0),
                          **kwargs)


def test_boxes_lie_in_the_valid_region_with_the_asked_area_and_aspect():
    g = torch.Generator().manual_seed(0)
    rois = sample_local_boxes([(40, 64), (64, 30)], 200, generator=g)
    assert rois.shape == (400, 5)
    for index, (h, w) in enumerate([(40, 64), (64, 30)]):
        r = rois[rois[:, 0] == index]
        assert (r[:, 1] >= 0).all() and (r[:, 2] >= 0).all()
        assert (r[:, 3] <= w + 1e-4).all() and (r[:, 4] <= h + 1e-4).all()
        bw, bh = r[:, 3] - r[:, 1], r[:, 4] - r[:, 2]
        area = bw * bh / (h * w)
        assert area.max() <= 0.5 + 1e-4
        unclipped = (bw < w - 1e-3) & (bh < h - 1e-3)
        assert (area[unclipped] >= 0.25 - 1e-4).all()
        aspect = (bw / bh)[unclipped]
        assert aspect.min() >= 2 / 3 - 1e-4 and aspect.max() <= 3 / 2 + 1e-4


def test_crops_are_the_box_contents_resized():
    model = tiny_trainer()
    images = torch.zeros(1, 3, 32, 32)
    images[:, :, 8:24, 0:16] = 1.0  # a bright 16 x 16 square
    crops = model.crops(images, torch.tensor([[0., 0., 8., 16., 24.]]))
    assert crops.shape == (1, 3, 32, 32)
    assert torch.allclose(crops[:, :, 2:-2, 2:-2], torch.ones(1, 3, 28, 28))


def test_crop_size_sets_the_target_view_and_is_checked():
    model = tiny_trainer(crop_size=16)
    images = torch.randn(2, 3, 64, 64)
    crops = model.crops(images, torch.tensor([[0., 0., 8., 32., 40.]]))
    assert crops.shape == (1, 3, 16, 16)
    tokens = model.box_tokens(images)
    assert tokens['target'].shape == tokens['student'].shape == (6, 16, 32)
    with pytest.raises(ValueError, match='model.crop_size'):
        tiny_trainer(crop_size=12)


def test_the_cosine_dense_loss_is_one_minus_the_logged_token_cosine():
    model = tiny_trainer(loss_dense=dict(type='DenseCosineLoss'), loss_scd=None)
    torch.manual_seed(1)
    with torch.no_grad():
        model.refiner.out.weight.normal_(std=0.1)      # a Refiner that is not the identity
    losses = model.loss(torch.randn(2, 3, 64, 64))
    assert set(losses) == {'loss_dense', 'token_cos', 'token_cos_frozen'}
    assert torch.isclose(losses['loss_dense'], 1 - losses['token_cos'], atol=1e-5)
    assert not torch.isclose(losses['token_cos'], losses['token_cos_frozen'], atol=1e-4)
    losses['loss_dense'].backward()
    assert model.refiner.out.weight.grad.abs().sum() > 0


def test_loss_terms_and_frozen_tower():
    model = tiny_trainer()
    images = torch.randn(2, 3, 64, 64)
    losses = model.loss(images)
    assert {'loss_dense', 'loss_scd', 'token_cos', 'token_cos_frozen'} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    # an untrained Refiner is the identity: student tokens are the frozen tokens
    assert losses['token_cos'].item() == pytest.approx(losses['token_cos_frozen'].item(), abs=1e-5)
    assert all(k.startswith('refiner.') for k in model.state_dict())
    assert not any(p is q for p in model.parameters() for q in model.tower.module.parameters())


def test_training_lowers_the_loss_and_never_touches_clip():
    model = tiny_trainer()
    before = model.tower.checksum()
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)

    def total(seed):
        torch.manual_seed(seed)  # same boxes every time
        losses = model.loss(images)
        return losses['loss_dense'] + losses['loss_scd']
    with torch.no_grad():
        start = total(0).item()
    for _ in range(12):
        opt.zero_grad()
        total(0).backward()
        opt.step()
    with torch.no_grad():
        end = total(0).item()
    assert end < start - 0.05, (start, end)
    assert model.tower.checksum() == before
    dense = model.clip_dense(images)
    assert not torch.allclose(model.refiner(dense), dense, atol=1e-4)


def test_refiner_width_must_match_the_tower():
    with pytest.raises(ValueError, match='refiner dim 48 does not match'):
        tiny_trainer().__class__(clip_model=TINY_OPENAI_ARCH,
                                 refiner=dict(type='Refiner', dim=48, num_heads=4))
    with pytest.raises(ValueError, match='model.loss_scd must be an SCDLoss config'):
        tiny_trainer(loss_scd=dict(type='DenseInfoNCELoss'))


def test_scd_is_the_stage2_term_with_its_weight_and_log_entries():
    from mmengine.logging import MessageHub
    MessageHub.get_instance('outside_a_runner')  # no iteration: scd_agreement on every call
    model = tiny_trainer(loss_scd=dict(type='SCDLoss', tau=0.2, loss_weight=0.25))
    assert isinstance(model.scd, SCDTerm) and model.scd.teacher is None
    torch.manual_seed(0)
    losses = model.loss(torch.randn(2, 3, 64, 64))
    assert losses['scd_weight'].item() == 0.25
    assert -1.0 <= losses['scd_agreement'].item() <= 1.0
    torch.manual_seed(0)
    tokens = model.box_tokens(torch.randn(2, 3, 64, 64))
    unweighted = model.scd.loss(tokens['student'], tokens['target'])
    torch.testing.assert_close(losses['loss_scd'], 0.25 * unweighted)


def test_both_stages_draw_their_boxes_from_the_seed_rank_iteration_generator():
    from mmengine.logging import MessageHub
    from mmengine.structures import BaseDataElement

    from refclip_mm.models.trainers import RLATrainer
    stage1 = tiny_trainer()
    stage2 = RLATrainer(clip_model=TINY_OPENAI_ARCH)
    sample = BaseDataElement(metainfo=dict(valid_shape=(48, 64), grid_boxes=(6, 20)))
    hub = MessageHub.get_instance('box_seeding_test')
    images = torch.randn(1, 3, 64, 64)
    drawn = {}
    for iteration in (3, 4, 3):
        hub.update_info('iter', iteration)
        seed = torch.initial_seed()
        local = stage1.box_tokens(images)['rois']
        grid = stage2.rois_from([sample], images.device)
        expected_local = sample_local_boxes([(64, 64)], stage1.num_boxes,
                                            generator=seeded_generator(seed, 0, iteration))
        expected_grid = sample_grid_boxes((48, 64), 6, 20,
                                          generator=seeded_generator(seed, 0, iteration))
        torch.testing.assert_close(local, expected_local, rtol=0, atol=0)
        torch.testing.assert_close(grid[:, 1:], expected_grid, rtol=0, atol=0)
        drawn.setdefault(iteration, []).append(local)
    assert torch.equal(*drawn[3]) and not torch.equal(drawn[3][0], drawn[4][0])


def test_contaminant_filter_compares_boxes_of_other_images():
    model = tiny_trainer(filter_contaminants=True)
    losses = model.loss(torch.randn(2, 3, 64, 64))
    assert 0.0 < losses['kept_targets'].item() < 1.0
    assert torch.isfinite(losses['loss_dense'])
    with pytest.raises(ValueError, match='at least 2 images'):
        model.loss(torch.randn(1, 3, 64, 64))


def test_width_token_space_refines_before_the_projection():
    model = tiny_trainer(token_space='width')
    assert model.refiner.dim == 64  # the tower width, not the 32-dim embedding
    images = torch.randn(2, 3, 64, 64)
    assert model.clip_dense(images).shape == (2, 64, 8, 8)
    # untrained: refining then projecting equals the plain projected dense map
    projected = model.tower('forward_dense', images).dense
    torch.testing.assert_close(model.extract_dense(images), projected)
    losses = model.loss(images)
    assert torch.isfinite(losses['loss_dense']) and torch.isfinite(losses['loss_scd'])


# The stated tolerance of the bf16 frozen tower in stage 1 (docs/losses.md, "Frozen path precision").
BF16_LOSS_RTOL = 1e-3
BF16_GRAD_RTOL = 0.1


def test_bf16_tower_stays_within_the_stated_tolerance():
    model = tiny_trainer()
    torch.nn.init.normal_(model.refiner.out.weight, std=0.05)
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    results = {}
    for precision in ('fp32', 'bf16'):
        model.tower_precision = precision
        model.zero_grad()
        torch.manual_seed(3)  # the same boxes
        losses = model.loss(images)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        grad = torch.cat([p.grad.flatten() for p in model.refiner.parameters()])
        results[precision] = losses, grad
    (loss32, grad32), (loss16, grad16) = results['fp32'], results['bf16']
    for key in ('loss_dense', 'loss_scd'):
        assert abs(loss16[key] - loss32[key]) <= BF16_LOSS_RTOL * abs(loss32[key]), key
    assert (grad16 - grad32).norm() <= BF16_GRAD_RTOL * grad32.norm()
    assert not torch.equal(grad16, grad32)
    with pytest.raises(ValueError, match='RefinerTrainer tower_precision must be one of'):
        tiny_trainer(tower_precision='double')
