"""How the dense map of a module is found: one rule for the segmentors, tools and hooks.

The contract, in order of precedence (first match wins):

1. ``module.extract_dense(images)`` returning ``B x D x h x w``: the explicit
   way in; stage-1 / stage-2 models and ``RefinerBackbone`` should offer it;
2. a :class:`~refclip_mm.clip.DenseCLIPTower`: ``forward_dense(images, mode).dense``;
3. a backbone with ``with_dense=True`` (:class:`~refclip_mm.models.backbones.CLIPViT`,
   ``RefinerBackbone``): the last map of its forward output (``mode`` ignored);
4. a module whose ``tower`` attribute is a ``DenseCLIPTower`` (``CLIPViT``
   without ``with_dense``): that tower, in the module's own ``dense_mode``
   unless ``mode`` is given;
5. any other ``forward_dense(images)``: its result, or its ``.dense`` field.

:func:`find_dense_fn` also looks at ``model.backbone`` when ``model`` itself
offers none of these. ``images`` are model-ready (normalised) ``B x 3 x H x W`` tensors.
"""
from typing import Callable, Optional

import torch
from torch import nn

from ..clip import DenseCLIPTower

DenseFn = Callable[[torch.Tensor], torch.Tensor]


def resolve_attr(model: nn.Module, path: Optional[str]) -> nn.Module:
    """``model`` itself (``path`` None or ``''``) or the sub-module at a dotted ``path``."""
    if not path:
        return model
    module = model
    for part in path.split('.'):
        if not hasattr(module, part):
            children = [n for n, _ in module.named_children()]
            raise AttributeError(f'{type(module).__name__} has no attribute {part!r} (while '
                                 f'resolving {path!r}); its children are {children}')
        module = getattr(module, part)
    return module


def dense_fn(module: nn.Module, mode: Optional[str] = None) -> DenseFn:
    """A function ``images (B x 3 x H x W) -> dense map (B x D x h x w)`` for ``module``.

    Args:
        module: see the module docstring for what qualifies.
        mode: last-block mode for CLIP towers (``value``/``qq``/``kk``/``plain``);
            ignored by ``extract_dense``.

    Raises:
        TypeError: the module offers none of the entry points.
    """
    if callable(getattr(module, 'extract_dense', None)):
        fn = module.extract_dense
    elif isinstance(module, DenseCLIPTower):
        fn = _tower_fn(module, mode or 'value')
    elif getattr(module, 'with_dense', False) is True:
        def fn(images):
            return module(images)[-1]
    elif isinstance(getattr(module, 'tower', None), DenseCLIPTower):
        fn = _tower_fn(module.tower, mode or getattr(module, 'dense_mode', 'value'))
    elif callable(getattr(module, 'forward_dense', None)):
        def fn(images):
            out = module.forward_dense(images)
            return getattr(out, 'dense', out)
    else:
        raise TypeError(
            f'{type(module).__name__} has no dense map: give a module with extract_dense(images) '
            '-> B x D x h x w, a DenseCLIPTower, a backbone with a DenseCLIPTower in .tower (CLIPViT) '
            'or forward_dense(images); or point at the right sub-module (e.g. dense_attr="backbone")')
    return lambda images: check_dense(fn(images), images, type(module).__name__)


def find_dense_fn(model: nn.Module, attr: Optional[str] = None,
                  mode: Optional[str] = None) -> DenseFn:
    """:func:`dense_fn` of ``model.<attr>``; with ``attr=None``, of ``model`` itself or else
    of ``model.backbone`` (mmdet / mmseg models)."""
    if attr is not None:
        return dense_fn(resolve_attr(model, attr), mode)
    try:
        return dense_fn(model, mode)
    except TypeError:
        backbone = getattr(model, 'backbone', None)
        if not isinstance(backbone, nn.Module):
            raise
        return dense_fn(backbone, mode)


def _tower_fn(tower: DenseCLIPTower, mode: str) -> DenseFn:
    return lambda images: tower.forward_dense(images, mode=mode).dense


def check_dense(dense: torch.Tensor, images: torch.Tensor, what: str = 'the tower') -> torch.Tensor:
    """Raise unless ``dense`` is a ``B x D x h x w`` tensor for the ``B`` images."""
    if not isinstance(dense, torch.Tensor) or dense.dim() != 4:
        got = tuple(dense.shape) if isinstance(dense, torch.Tensor) else type(dense).__name__
        raise ValueError(f'the dense output of {what} must be a 4-D B x D x h x w tensor, got {got}')
    if dense.shape[0] != images.shape[0]:
        raise ValueError(f'{what} returned {dense.shape[0]} dense maps for {images.shape[0]} images')
    return dense
