"""Mixed-precision training that also runs on the CPU.

mmengine's ``AmpOptimWrapper`` needs a CUDA (or NPU / MLU) device. ``AutocastOptimWrapper``
runs the forward pass under ``torch.autocast`` on whatever device the model is on, with
bf16 by default: parameters, gradients and optimizer state stay fp32, matrix products and
attention run in bf16, and no loss scaling is needed (bf16 keeps fp32's exponent range).
Use it in a config as ``optim_wrapper = dict(type='AutocastOptimWrapper', optimizer=...)``.
"""
import contextlib

import torch
from mmengine.optim import OptimWrapper

from ..registry import OPTIM_WRAPPERS

DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` whose forward passes run under autocast.

    Args:
        dtype: ``'bfloat16'`` (default; CPU and CUDA) or ``'float16'`` (CUDA only; no
            loss scaling here, use mmengine's ``AmpOptimWrapper`` for fp16).
        **kwargs: as :class:`~mmengine.optim.OptimWrapper`.
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs):
        if dtype not in DTYPES:
            raise ValueError(f'optim_wrapper.dtype must be one of {sorted(DTYPES)}, got {dtype!r}')
        super().__init__(**kwargs)
        self.dtype = DTYPES[dtype]

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(iter(model.parameters())).device.type
        if device == 'cpu' and self.dtype == torch.float16:
            raise ValueError("optim_wrapper.dtype='float16' needs a CUDA model; use 'bfloat16' "
                             'on the CPU')
        with super().optim_context(model), torch.autocast(device_type=device, dtype=self.dtype):
            yield
