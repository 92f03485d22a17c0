"""FrozenModule: no graph, outputs usable in a graph-building loss, optional autocast."""
import pytest
import torch
from torch import nn

from refclip_mm.models.frozen import FrozenModule, check_precision


def test_outputs_have_no_graph_but_can_be_saved_by_a_loss_that_trains_something_else():
    torch.manual_seed(0)
    frozen = FrozenModule(nn.Linear(8, 8))
    student = nn.Linear(8, 8)
    x = torch.randn(4, 8)
    for precision in ('fp32', 'bf16'):
        target = frozen('forward', x, precision=precision)
        assert target.dtype == torch.float32 and target.grad_fn is None
        assert not target.requires_grad and not target.is_inference()
        # cosine saves the target for backward (what CLIPSelf does with the crop embeddings)
        loss = 1 - torch.cosine_similarity(student(x), target, dim=-1).mean()
        loss.backward()
        assert student.weight.grad.abs().sum() > 0
        student.zero_grad()
    assert frozen.module.weight.grad is None


def test_bf16_autocast_runs_the_products_in_bf16_and_keeps_the_residual_in_fp32():
    from refclip_mm.clip import TINY_OPENAI_ARCH, build_image_tower
    torch.manual_seed(0)
    tower = FrozenModule(build_image_tower(TINY_OPENAI_ARCH))
    images = torch.randn(2, 3, 32, 32)
    full = tower('forward_dense', images).dense
    low = tower('forward_dense', images, precision='bf16').dense
    assert low.dtype == torch.float32
    assert not torch.equal(low, full)
    assert (low - full).norm() <= 0.05 * full.norm()
    # the residual stream stays in the input's dtype under autocast
    seen = []
    norm = tower.module.blocks[0].ln_2  # its input is the residual stream after attention
    handle = norm.register_forward_hook(lambda m, i, o: seen.append(i[0].dtype))
    tower('forward_dense', images, precision='bf16')
    handle.remove()
    assert seen == [torch.float32]


def test_precision_names_are_checked():
    assert check_precision('bf16') == 'bf16'
    assert check_precision('auto') == 'auto'
    with pytest.raises(ValueError, match="my_key must be one of .*'fp16'.*got 'half'"):
        check_precision('half', 'my_key')


def test_freeze_parts_and_the_mixin_keep_frozen_modules_in_eval():
    from refclip_mm.models.frozen import FrozenPartsMixin, freeze_parts

    class Net(FrozenPartsMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.body = nn.Dropout(0.5), nn.Linear(4, 4)
            self.token = nn.Parameter(torch.zeros(4))
            self.head = nn.Linear(4, 2)
            self._frozen_modules = freeze_parts([self.token, self.stem, self.head])

    net = Net().train()
    assert net._frozen_modules == [net.stem, net.head]
    assert not net.token.requires_grad and not net.head.weight.requires_grad
    assert net.body.weight.requires_grad
    assert net.training and net.body.training and not net.stem.training and not net.head.training
    net.eval().train()
    assert net.body.training and not net.head.training


def test_auto_precision_is_bf16_exactly_where_the_device_has_it(monkeypatch):
    import io

    from refclip_mm.utils import precision
    detect = precision.native_bf16.__wrapped__  # without the cache, to vary the device
    # where the device has bf16: CUDA that supports it; a CPU whose oneDNN says so, or whose
    # flags show avx512_bf16 / amx_bf16 when oneDNN cannot answer; nothing else
    for available, supported, expected in ((False, True, False), (True, False, False),
                                           (True, True, True)):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: available)
        monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: supported)
        assert detect('cuda') is expected, (available, supported)
    for onednn in (True, False):
        monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: onednn)
        assert detect('cpu') is onednn

    def no_onednn():
        raise RuntimeError('no oneDNN in this build')
    monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', no_onednn)
    for flags, expected in (('fpu avx2 fma', False), ('avx2 avx512_bf16', True),
                            ('avx2 amx_bf16 amx_tile', True)):
        monkeypatch.setattr(precision, 'open', lambda *a, **k: io.StringIO(f'flags : {flags}\n'),
                            raising=False)
        assert detect('cpu') is expected, flags
    assert detect('mps') is False

    # 'auto' follows that answer; the other names do not depend on it
    tower = FrozenModule(nn.Sequential(nn.Linear(4, 4)))  # calls forward: hook the inner one
    seen = []
    tower.module[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    for native in (True, False):
        monkeypatch.setattr(precision, 'native_bf16', lambda device_type: native)
        auto = torch.bfloat16 if native else None
        assert precision.autocast_dtype('auto', 'cpu') == auto
        assert precision.autocast_dtype('bf16', 'cpu') == torch.bfloat16  # asked for: always
        assert precision.autocast_dtype('fp16', 'cuda') == torch.float16
        assert precision.autocast_dtype('fp32', 'cpu') is None
        # a frozen forward in 'auto' runs its products in bf16 exactly when the device has it,
        # and returns the input's dtype either way
        seen.clear()
        out = tower('forward', torch.randn(2, 4), precision='auto')
        assert seen == [torch.bfloat16 if native else torch.float32], native
        assert out.dtype == torch.float32
