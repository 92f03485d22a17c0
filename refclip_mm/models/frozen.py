"""Keep a frozen network beside a model without making it part of the model."""
from typing import Any

import torch
from torch import nn


class FrozenModule:
    """Hold ``module`` frozen, *outside* the owner's module tree.

    A frozen CLIP tower used as a teacher or a feature extractor must not be
    saved in checkpoints, handed to the optimizer, synchronised by DDP or
    switched to train mode by ``model.train()``. Assigning it to a plain
    attribute through this holder achieves all four: ``nn.Module`` only
    registers attributes that are modules or parameters.

    The module is put in eval mode with ``requires_grad=False``; calls run
    under ``torch.no_grad()``; :meth:`follow` moves it to the device of the
    tensors it is about to process.

    Args:
        module: the network to freeze (moved, not copied).
    """

    def __init__(self, module: nn.Module):
        self.module = module.eval().requires_grad_(False)

    def follow(self, tensor: torch.Tensor) -> nn.Module:
        """Move the module to ``tensor``'s device (no-op when already there); return it."""
        param = next(self.module.parameters(), None)
        if param is not None and param.device != tensor.device:
            self.module.to(tensor.device)
        return self.module

    @torch.no_grad()
    def __call__(self, method: str, tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """Call ``module.<method>(tensor, ...)`` without gradients, on ``tensor``'s device."""
        module = self.follow(tensor)
        if module.training:  # someone called .train() on it directly
            module.eval()
        return getattr(module, method)(tensor, *args, **kwargs)

    def checksum(self) -> float:
        """Sum of absolute parameter values: a cheap fingerprint for "never updated" checks."""
        return float(sum(p.detach().double().abs().sum() for p in self.module.parameters()))
