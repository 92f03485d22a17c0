"""AutocastOptimWrapper: bf16 autocast training steps on the CPU, through mmengine's API."""
import pytest
import torch
from torch import nn

from refclip_mm.registry import OPTIM_WRAPPERS


def build(**kwargs):
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    wrapper = OPTIM_WRAPPERS.build(dict(type='AutocastOptimWrapper',
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                                        **kwargs))
    return model, wrapper


def test_forward_runs_in_bf16_and_the_weights_stay_fp32():
    torch.manual_seed(0)
    model, wrapper = build(dtype='bfloat16')
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(4, 8)
    with wrapper.optim_context(model):
        out = model(x)
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert model(x).dtype == torch.float32  # outside the context nothing is cast


def test_bad_dtypes_are_named():
    with pytest.raises(ValueError, match='optim_wrapper.dtype'):
        build(dtype='int8')
    model, wrapper = build(dtype='float16')
    with pytest.raises(ValueError, match='needs a CUDA model'):
        with wrapper.optim_context(model):
            pass


def test_auto_uses_bf16_only_where_the_cpu_computes_it_natively():
    from refclip_mm.utils.precision import native_bf16
    model, wrapper = build()  # dtype='auto', the default
    with wrapper.optim_context(model):
        out = model(torch.randn(4, 8))
    assert out.dtype == (torch.bfloat16 if native_bf16('cpu') else torch.float32)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_the_plain_name_builds_in_mmdet_and_mmseg_configs(scope):
    """An mmdet / mmseg config names it without the ``refclip_mm.`` prefix."""
    import importlib

    from mmengine.registry import DefaultScope
    registry = importlib.import_module(f'{scope}.registry').OPTIM_WRAPPERS
    model = nn.Linear(2, 2)
    with DefaultScope.overwrite_default_scope(scope):
        wrapper = registry.build(dict(type='AutocastOptimWrapper', optimizer=torch.optim.SGD(
            model.parameters(), lr=0.1)))
    assert type(wrapper).__name__ == 'AutocastOptimWrapper'
