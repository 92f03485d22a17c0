"""Compute precisions of forward passes, and whether a device computes bf16 natively.

A precision name is ``'fp32'`` (no autocast), ``'bf16'`` or ``'fp16'`` (autocast to that
dtype), or ``'auto'``: bf16 where the device has bf16 arithmetic (CUDA GPUs that support it;
CPUs with AVX512-BF16 or AMX), fp32 elsewhere. On a CPU without them (AVX2-only x86, for
example) PyTorch emulates bf16 matrix products, which makes autocast several times slower
than fp32 (docs/toyworld.md, "bf16 on the CPU"), so ``'auto'`` is the package's default.
"""
import functools
from typing import Optional

import torch

PRECISIONS = {'auto': 'auto', 'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def check_precision(precision: str, key: str = 'precision') -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`; otherwise raise naming ``key``."""
    if precision not in PRECISIONS:
        raise ValueError(f'{key} must be one of {sorted(PRECISIONS)}, got {precision!r}')
    return precision


@functools.lru_cache(maxsize=None)
def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` (``'cpu'``, ``'cuda'``) computes bf16 matrix products natively."""
    if device_type == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != 'cpu':
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # no oneDNN in this build: read the CPU's flags
        try:
            with open('/proc/cpuinfo') as f:
                flags = f.read()
        except OSError:
            return False
        return 'avx512_bf16' in flags or 'amx_bf16' in flags


def autocast_dtype(precision: str, device_type: str) -> Optional[torch.dtype]:
    """The autocast dtype of ``precision`` on ``device_type`` (``None``: run in fp32)."""
    dtype = PRECISIONS[check_precision(precision)]
    if dtype == 'auto':
        return torch.bfloat16 if native_bf16(device_type) else None
    return dtype
