"""Mixed-precision training that also runs on the CPU.

mmengine's ``AmpOptimWrapper`` needs a CUDA (or NPU / MLU) device. ``AutocastOptimWrapper``
runs the forward pass under ``torch.autocast`` on whatever device the model is on, in bf16
where that device computes bf16 natively (the default, ``dtype='auto'``): parameters,
gradients and optimizer state stay fp32, matrix products and attention run in bf16, and no
loss scaling is needed (bf16 keeps fp32's exponent range). On a CPU without bf16 arithmetic
(no AVX512-BF16 / AMX) ``'auto'`` trains in plain fp32, since emulated bf16 is several times
slower there (docs/toyworld.md, "bf16 on the CPU"); ``dtype='bfloat16'`` forces it.
Use it in a config as ``optim_wrapper = dict(type='AutocastOptimWrapper', optimizer=...)``.
"""
import contextlib

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from ..registry import OPTIM_WRAPPERS
from ..utils.precision import autocast_dtype

# optim_wrapper.dtype -> the precision name of refclip_mm.utils.precision
DTYPES = {'auto': 'auto', 'bfloat16': 'bf16', 'float16': 'fp16'}


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` whose forward passes run under autocast.

    Args:
        dtype: ``'auto'`` (default: bf16 where the model's device computes it natively,
            no autocast elsewhere), ``'bfloat16'`` (CPU and CUDA) or ``'float16'`` (CUDA
            only; no loss scaling here, use mmengine's ``AmpOptimWrapper`` for fp16).
        **kwargs: as :class:`~mmengine.optim.OptimWrapper`.
    """

    def __init__(self, dtype: str = 'auto', **kwargs):
        if dtype not in DTYPES:
            raise ValueError(f'optim_wrapper.dtype must be one of {sorted(DTYPES)}, got {dtype!r}')
        super().__init__(**kwargs)
        self.dtype = DTYPES[dtype]
        self._told = False

    def autocast_dtype(self, device: str):
        """The dtype the forward passes on ``device`` run in (``None``: fp32, no autocast)."""
        dtype = autocast_dtype(self.dtype, device)
        if dtype is None and not self._told:
            print_log(f'AutocastOptimWrapper: this {device} has no native bf16 arithmetic, '
                      "training in fp32 (set optim_wrapper.dtype='bfloat16' to force bf16)",
                      logger='current')
            self._told = True
        return dtype

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(iter(model.parameters())).device.type
        if device == 'cpu' and self.dtype == 'fp16':
            raise ValueError("optim_wrapper.dtype='float16' needs a CUDA model; use 'bfloat16' "
                             'on the CPU')
        dtype = self.autocast_dtype(device)
        autocast = (contextlib.nullcontext() if dtype is None
                    else torch.autocast(device_type=device, dtype=dtype))
        with super().optim_context(model), autocast:
            yield
