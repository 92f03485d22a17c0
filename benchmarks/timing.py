"""Timing helper shared by the benchmark scripts."""
import time
from typing import Callable

import torch


def timed(fn: Callable[[], object], repeats: int, device: str = 'cpu') -> float:
    """Mean seconds per call of ``fn`` over ``repeats`` calls, after one warm-up call."""
    fn()
    if device == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device == 'cuda':
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats
