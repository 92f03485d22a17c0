"""Frozen parts: a frozen network held beside a model (:class:`FrozenModule`), and frozen parts
inside a model (:func:`freeze_parts` + :class:`FrozenPartsMixin`)."""
import contextlib
from typing import Any, Iterable, List, Sequence, Union

import torch
from torch import nn
from torch.utils._pytree import tree_map

from ..utils.precision import autocast_dtype, check_precision

__all__ = ['FrozenModule', 'FrozenPartsMixin', 'check_precision', 'freeze_parts',
           'frozen_autocast']


def frozen_autocast(precision: str, device: torch.device):
    """Autocast context of a frozen forward in ``precision`` on ``device`` (fp32: none;
    ``'auto'``: bf16 where ``device`` computes it natively, see :mod:`refclip_mm.utils.precision`)."""
    dtype = autocast_dtype(precision, torch.device(device).type)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


Part = Union[nn.Module, nn.Parameter]


def freeze_parts(parts: Iterable[Part]) -> List[nn.Module]:
    """Stop the gradients of ``parts``: every parameter of each module, and bare parameters
    (a class token, a projection matrix) themselves.

    Returns:
        the modules among ``parts``, in order: the ones to keep in eval mode
        (:class:`FrozenPartsMixin`).
    """
    parts = list(parts)
    for part in parts:
        part.requires_grad_(False)
    return [part for part in parts if isinstance(part, nn.Module)]


class FrozenPartsMixin:
    """For an ``nn.Module`` with frozen parts: the modules listed in ``_frozen_modules`` (as
    returned by :func:`freeze_parts`) stay in eval mode when ``train()`` is called, so their
    dropout and normalisation statistics behave as in inference. Put it before the
    ``nn.Module`` base class."""

    _frozen_modules: Sequence[nn.Module] = ()

    def train(self, mode: bool = True):
        super().train(mode)
        for module in self._frozen_modules:
            module.eval()
        return self


class FrozenModule:
    """Hold ``module`` frozen, *outside* the owner's module tree.

    A frozen CLIP tower used as a teacher or a feature extractor must not be
    saved in checkpoints, handed to the optimizer, synchronised by DDP or
    switched to train mode by ``model.train()``. Assigning it to a plain
    attribute through this holder achieves all four: ``nn.Module`` only
    registers attributes that are modules or parameters.

    The module is put in eval mode with ``requires_grad=False``; calls run
    under ``torch.no_grad()`` (no graph, no saved activations) and optionally
    under autocast; :meth:`follow` moves it to the device of the tensors it is
    about to process.

    ``no_grad`` rather than ``inference_mode``: the outputs feed losses whose
    graph saves them for backward (CLIPSelf's cosine saves the crop
    embeddings), which inference tensors cannot be, and both modes cost the
    same on the matrix products that dominate here.

    Args:
        module: the network to freeze (moved, not copied).
    """

    def __init__(self, module: nn.Module):
        freeze_parts([module])
        self.module = module.eval()

    def follow(self, tensor: torch.Tensor) -> nn.Module:
        """Move the module to ``tensor``'s device (no-op when already there); return it."""
        param = next(self.module.parameters(), None)
        if param is not None and param.device != tensor.device:
            self.module.to(tensor.device)
        return self.module

    @torch.no_grad()
    def __call__(self, method: str, tensor: torch.Tensor, *args: Any,
                 precision: str = 'fp32', **kwargs: Any) -> Any:
        """Call ``module.<method>(tensor, ...)`` without gradients, on ``tensor``'s device.

        ``precision`` ``'bf16'`` / ``'fp16'`` (or ``'auto'`` where it means bf16) runs the
        call under autocast (matrix products in that dtype); floating outputs are returned
        in ``tensor``'s dtype.
        """
        module = self.follow(tensor)
        if module.training:  # someone called .train() on it directly
            module.eval()
        with frozen_autocast(precision, tensor.device):
            out = getattr(module, method)(tensor, *args, **kwargs)
        if autocast_dtype(precision, tensor.device.type) is None or not tensor.is_floating_point():
            return out
        return tree_map(lambda t: t.to(tensor.dtype)
                        if isinstance(t, torch.Tensor) and t.is_floating_point() else t, out)

    def checksum(self) -> float:
        """Sum of absolute parameter values: a cheap fingerprint for "never updated" checks."""
        return float(sum(p.detach().double().abs().sum() for p in self.module.parameters()))
