"""SCDDistillHook pieces: teacher checks, refiner checks, region and image level terms."""
import pytest
import torch

from refclip_mm.clip import TINY_EVA_ARCH, TINY_OPENAI_ARCH
from refclip_mm.hooks import SCDDistillHook
from refclip_mm.models.backbones import Refiner
from refclip_mm.models.trainers import RLABatch, RLATrainer
from refclip_mm.utils.atomic import atomic_torch_save


def tiny_model():
    torch.manual_seed(0)
    return RLATrainer(clip_model=TINY_OPENAI_ARCH)


def batch_for(model, images):
    rois = torch.tensor([[0., 0., 0., 32., 32.], [0., 16., 16., 64., 64.], [1., 0., 0., 64., 64.]])
    return RLABatch(images, model.student_dense(images), rois, model.patch_size)


@pytest.mark.parametrize('level', ['region', 'image'])
def test_at_the_start_student_equals_teacher_so_scd_has_no_gradient(level):
    model = tiny_model()
    hook = SCDDistillHook(level=level, grid_size=4)
    hook.teacher = hook._build_teacher(model)
    assert hook.teacher is model.initial_tower
    out = hook.loss_term(batch_for(model, torch.randn(2, 3, 64, 64)))
    assert set(out) == {'loss_scd', 'scd_weight', 'scd_agreement'}
    assert out['scd_agreement'].item() == pytest.approx(1.0, abs=1e-4)
    out['loss_scd'].backward()
    grads = [p.grad.abs().max().item() for p in model.student.parameters() if p.grad is not None]
    assert grads and max(grads) < 1e-4


def test_a_refined_teacher_gives_a_gradient_and_a_lower_agreement(tmp_path):
    model = tiny_model()
    refiner = Refiner(dim=32, depth=1, num_heads=4)
    torch.nn.init.normal_(refiner.out.weight, std=0.5)
    path = tmp_path / 'refiner.pth'
    atomic_torch_save(dict(state_dict=refiner.state_dict(), meta=dict(
        refiner_cfg=dict(dim=32, depth=1, num_heads=4, mlp_ratio=4.0))), str(path))
    hook = SCDDistillHook(refiner=str(path), grid_size=4)
    hook.teacher = hook._build_teacher(model)
    hook.refiner = hook._build_refiner(model.student)
    out = hook.loss_term(batch_for(model, torch.randn(2, 3, 64, 64)))
    assert out['scd_agreement'].item() < 0.999
    out['loss_scd'].backward()
    assert max(p.grad.abs().max().item() for p in model.student.parameters()
               if p.grad is not None) > 1e-6


def test_off_before_the_start_iteration_costs_no_teacher_forward():
    model = tiny_model()
    hook = SCDDistillHook(grid_size=4)
    hook.teacher = None  # would fail if the teacher were called
    hook.start_iter, hook._iter = 5, 2
    out = hook.loss_term(batch_for(model, torch.randn(2, 3, 64, 64)))
    assert out['loss_scd'].item() == 0.0 and out['scd_weight'].item() == 0.0
    assert out['loss_scd'].requires_grad


def test_bad_teacher_refiner_and_options_are_named(tmp_path):
    model = tiny_model()
    with pytest.raises(ValueError, match='does not match the student'):
        SCDDistillHook(teacher=dict(clip_model=TINY_EVA_ARCH))._build_teacher(model)
    refiner = Refiner(dim=48, depth=1, num_heads=4)
    path = tmp_path / 'refiner48.pth'
    atomic_torch_save(dict(state_dict=refiner.state_dict(), meta=dict(
        refiner_cfg=dict(dim=48, depth=1, num_heads=4, mlp_ratio=4.0))), str(path))
    with pytest.raises(ValueError, match='trained for another tower'):
        SCDDistillHook(refiner=str(path))._build_refiner(model.student)
    with pytest.raises(ValueError, match='level must be one of'):
        SCDDistillHook(level='pixel')
    with pytest.raises(ValueError, match='start_ratio'):
        SCDDistillHook(start_ratio=1.0)
