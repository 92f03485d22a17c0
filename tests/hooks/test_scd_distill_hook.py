"""SCDDistillHook through mmengine's Runner: teacher and refiner checks, region and image level
terms, the lambda schedule, the bf16 teacher's tolerance, the agreement metric, SDPA."""
import os.path as osp

import factories
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from refclip_mm.clip import TINY_EVA_ARCH, TINY_OPENAI_ARCH
from refclip_mm.hooks import SCDDistillHook

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'rla', 'clipself-patches_clip-tiny_1xb4-20i_synthetic-64.py')
SDPA = 'aten::scaled_dot_product_attention'


@pytest.fixture(scope='module')
def clip_files(weights, tmp_path_factory):
    """The tiny CLIP, and a copy whose image blocks moved (a student that left its teacher)."""
    initial, model = weights('openai')
    moved = str(tmp_path_factory.mktemp('scd_hook_clip') / 'tiny_clip_moved.pth')
    gen = torch.Generator().manual_seed(2)
    state = model.state_dict()
    for key, value in state.items():
        if key.startswith('visual.transformer.resblocks.') and value.numel() > 1:
            state[key] = value + torch.randn(value.shape, generator=gen) * value.std() * 0.3
    torch.save(state, moved)
    return dict(initial=initial, moved=moved)


def refiner_file(path, dim=32, depth=1, std=0.5, seed=0):
    factories.refiner_file(path, dim=dim, depth=depth, num_heads=4, out_std=std, seed=seed)
    return str(path)


class Recorder(Hook):
    """Keeps each iteration's outputs (the logged losses, with their graph) and, with
    ``profile``, the number of SDPA calls of each iteration."""
    priority = 'LOWEST'

    def __init__(self, profile=False):
        self.outputs, self.sdpa, self.profile, self._prof = [], [], profile, None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.profile:
            self._prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self._prof.__enter__()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.outputs.append(dict(outputs))
        if self.profile:
            self._prof.__exit__(None, None, None)
            self.sdpa.append([e.name for e in self._prof.events()].count(SDPA))


def train(root, data_root, student, max_iters=1, lr=0.0, profile=False, **hook):
    """A tiny CLIPSelf run with ``SCDDistillHook(**hook)``; ``lr=0`` keeps the student where it
    started. Returns ``(runner, scd_hook, recorder)``."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.pretrained = student
    cfg.work_dir = str(root)
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = max_iters
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    cfg.custom_hooks = [dict(type='SCDDistillHook', grid_size=4, **hook)]
    cfg.experiment_name = f'scd_{osp.basename(str(root))}'
    runner = Runner.from_cfg(cfg)
    recorder = Recorder(profile)
    runner.register_hook(recorder)
    runner.train()
    scd = next(h for h in runner.hooks if isinstance(h, SCDDistillHook))
    return runner, scd, recorder


def step_losses(runner):
    """The trained model's losses on the next training batch (boxes of its last iteration),
    and the batch's images."""
    model = runner.model
    data = model.data_preprocessor(next(iter(runner.train_dataloader)), True)
    return model(**data, mode='loss'), data['inputs']


def student_grads(runner, loss):
    params = [p for p in runner.model.student.parameters() if p.requires_grad]
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])


@pytest.mark.parametrize('level', ['region', 'image'])
def test_at_the_start_student_equals_teacher_so_scd_has_no_gradient(
        level, clip_files, synthetic_root, tmp_path):
    runner, scd, recorder = train(tmp_path, synthetic_root, clip_files['initial'], level=level,
                                  agreement_interval=1)
    assert scd.term.teacher.tower is runner.model.initial_tower  # shared, not a second copy
    (out, ) = recorder.outputs
    assert {'loss_scd', 'scd_weight', 'scd_agreement'} <= set(out)
    assert out['scd_agreement'].item() == pytest.approx(1.0, abs=1e-4)
    grads = student_grads(runner, step_losses(runner)[0]['loss_scd'])
    assert grads.abs().max().item() < 1e-4


def test_a_refined_teacher_gives_a_gradient_and_a_lower_agreement(
        clip_files, synthetic_root, tmp_path):
    runner, _, recorder = train(tmp_path, synthetic_root, clip_files['initial'],
                                refiner_file=refiner_file(tmp_path / 'refiner.pth'),
                                agreement_interval=1)
    assert recorder.outputs[0]['scd_agreement'].item() < 0.999
    grads = student_grads(runner, step_losses(runner)[0]['loss_scd'])
    assert grads.abs().max().item() > 1e-6


def test_off_before_the_start_iteration_costs_no_teacher_forward(clip_files, synthetic_root,
                                                                 tmp_path):
    _, scd, recorder = train(tmp_path, synthetic_root, clip_files['initial'], max_iters=4,
                             start_ratio=0.5, profile=True)
    assert scd.start_iter == 2
    weights = [out['scd_weight'].item() for out in recorder.outputs]
    assert weights == pytest.approx([0.0, 0.0, 0.4, 0.4])
    for out in recorder.outputs[:2]:
        assert out['loss_scd'].item() == 0.0 and out['loss_scd'].requires_grad
    assert all(out['loss_scd'].item() > 0.0 for out in recorder.outputs[2:])
    # while off, no teacher forward: its attention calls (blocks 1..L-1) appear once SCD is on
    off, on = recorder.sdpa[:2], recorder.sdpa[2:]
    assert len(set(off)) == 1 and len(set(on)) == 1
    assert on[0] - off[0] == TINY_OPENAI_ARCH['vision_cfg']['layers'] - 1


def test_bad_teacher_refiner_and_options_are_named(clip_files, synthetic_root, tmp_path):
    with pytest.raises(ValueError, match='does not match the student'):
        train(tmp_path / 'a', synthetic_root, clip_files['initial'],
              teacher=dict(clip_model=TINY_EVA_ARCH))
    with pytest.raises(ValueError, match='trained for another tower'):
        train(tmp_path / 'b', synthetic_root, clip_files['initial'],
              refiner_file=refiner_file(tmp_path / 'refiner48.pth', dim=48))
    with pytest.raises(ValueError, match='level must be one of'):
        SCDDistillHook(level='pixel')
    with pytest.raises(ValueError, match='start_ratio'):
        SCDDistillHook(start_ratio=1.0)


# The stated tolerance of the bf16 teacher (docs/losses.md, "Frozen path precision"): the SCD
# value within 1e-3, the student's gradient within 10 % (relative norm of the difference) once
# the student has moved from its teacher (scd_agreement <= 0.998).
BF16_SCD_VALUE_RTOL = 1e-3
BF16_SCD_GRAD_RTOL = 0.1
BF16_MAX_AGREEMENT = 0.998


@pytest.mark.parametrize('refined', [False, True])
def test_bf16_teacher_stays_within_the_stated_tolerance(clip_files, synthetic_root, tmp_path,
                                                        refined):
    refiner = refiner_file(tmp_path / 'refiner.pth', std=0.05, seed=1) if refined else None
    results = {}
    for precision in ('fp32', 'bf16'):
        # the student starts from the moved weights, the teacher is the initial tower
        runner, scd, _ = train(
            tmp_path / precision, synthetic_root, clip_files['moved'], refiner_file=refiner,
            precision=precision, agreement_interval=1,
            teacher=dict(clip_model=TINY_OPENAI_ARCH, pretrained=clip_files['initial']))
        losses, images = step_losses(runner)
        target = scd.term.teacher_dense(images)
        assert target.dtype == torch.float32 and not target.requires_grad
        results[precision] = losses['loss_scd'].detach(), student_grads(runner, losses['loss_scd'])
        if precision == 'fp32':  # the stated condition: the student has moved from its teacher
            assert losses['scd_agreement'] <= BF16_MAX_AGREEMENT
    (loss32, grad32), (loss16, grad16) = results['fp32'], results['bf16']
    assert grad32.norm() > 1e-6  # a case where SCD has something to distil
    assert abs(loss16 - loss32) <= BF16_SCD_VALUE_RTOL * abs(loss32)
    assert (grad16 - grad32).norm() <= BF16_SCD_GRAD_RTOL * grad32.norm()
    assert not torch.equal(grad16, grad32)  # the bf16 path really ran


def test_agreement_metric_every_n_iterations_and_options_checked(clip_files, synthetic_root,
                                                                 tmp_path):
    _, _, recorder = train(tmp_path, synthetic_root, clip_files['initial'], max_iters=7,
                           agreement_interval=3, start_ratio=0.0)
    logged = ['scd_agreement' in out for out in recorder.outputs]
    assert logged == [True, False, False, True, False, False, True]
    with pytest.raises(ValueError, match='agreement_interval'):
        SCDDistillHook(agreement_interval=0)
    with pytest.raises(ValueError, match='SCDDistillHook precision must be one of'):
        SCDDistillHook(precision='int8')


@pytest.mark.parametrize('precision', ['fp32', 'bf16'])
def test_the_frozen_path_attends_through_sdpa(clip_files, synthetic_root, tmp_path, precision):
    """Every attention of the teacher tower and the Refiner is one scaled_dot_product_attention
    call (fused kernels), in fp32 and under bf16 autocast."""
    runner, scd, _ = train(tmp_path, synthetic_root, clip_files['initial'], precision=precision,
                           refiner_file=refiner_file(tmp_path / 'refiner.pth', depth=2))
    images = torch.randn(2, 3, 64, 64)
    # blocks 1..L-1 attend, the last runs in value mode (no attention); plus 2 Refiner blocks
    expected = runner.model.student.depth - 1 + 2
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        scd.term.teacher_dense(images)
    names = [e.name for e in prof.events()]
    assert names.count(SDPA) == expected
    assert 'aten::softmax' not in names and 'aten::_softmax' not in names
