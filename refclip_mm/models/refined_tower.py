"""A frozen CLIP image tower + an optional Refiner in a token space, then the projection.

The one place the (refined) dense map of docs/method.md sections 4-5 is computed: by the
stage-1 model (its trainable Refiner), by :class:`~refclip_mm.models.backbones.RefinerBackbone` (a
trained Refiner, frozen) and by the stage-2 SCD teacher (:class:`~refclip_mm.models.scd_term.SCDTerm`).

Token spaces: ``'projected'`` refines the projected dense map (``D`` = the joint embedding dim);
``'width'`` refines the tokens before the projection (after the final norm, ``C`` = the tower
width) and projects afterwards.

:class:`RefinedTower` owns no parameters: the tower and the Refiner stay registered where their
owner keeps them (the stage-1 checkpoint and a detector's backbone weights hold ``refiner.*``),
and it holds the tower (and a frozen Refiner) through
:class:`~refclip_mm.models.frozen.FrozenModule`: no gradient, eval mode, the input's device,
optional autocast with outputs in the input's dtype.
"""
from typing import Optional, Union

import torch
from torch import nn

from ..registry import MODELS
from ..utils.checkpoint import load_state_dict_checked
from .frozen import FrozenModule, check_precision
from .refiner_file import TOKEN_SPACES, load_refiner_file


def check_token_space(token_space: str, key: str = 'token_space') -> str:
    """Return ``token_space`` if known; otherwise raise naming the config ``key``."""
    if token_space not in TOKEN_SPACES:
        raise ValueError(f'{key} must be one of {TOKEN_SPACES}, got {token_space!r}')
    return token_space


def token_dim(tower: Union[nn.Module, FrozenModule], token_space: str) -> int:
    """Width of ``tower``'s tokens in ``token_space``: ``embed_dim`` or ``width``."""
    tower = tower.module if isinstance(tower, FrozenModule) else tower
    return tower.embed_dim if check_token_space(token_space) == 'projected' else tower.width


def build_refiner(cfg: dict, tower: Union[nn.Module, FrozenModule], token_space: str = 'projected',
                  state: Optional[dict] = None, source: Optional[str] = None) -> nn.Module:
    """Build a :class:`Refiner` for ``tower``'s ``token_space`` tokens.

    Args:
        cfg: Refiner options (``type`` optional); ``dim`` defaults to the token width.
        tower: the CLIP image tower it refines.
        token_space: ``'projected'`` or ``'width'``.
        state: trained weights to load (every key checked), or ``None``.
        source: the Refiner file ``state`` comes from (named in errors).

    Raises:
        ValueError: ``dim`` is not the tower's token width (the message names ``source``).
    """
    cfg = dict(cfg)
    cfg.setdefault('type', 'Refiner')
    width = token_dim(tower, token_space)
    cfg.setdefault('dim', width)
    if cfg['dim'] != width:
        where = (f'the Refiner in {source!r} was trained for another tower' if source else
                 'set refiner.dim to it or leave it out')
        raise ValueError(f'refiner dim {cfg["dim"]} does not match the tower\'s {token_space} '
                         f'token dim {width}: {where}')
    refiner = MODELS.build(cfg)
    if state is not None:
        load_state_dict_checked(refiner, state, source=source)
    return refiner


class RefinedTower:
    """``project(Refiner(tower tokens))``: the refined dense map ``B x D x h x w``.

    Args:
        tower: the frozen CLIP image tower (a module, frozen here, or a shared
            :class:`FrozenModule`).
        refiner: a :class:`Refiner` on ``token_space`` tokens, or ``None`` (the tower's own map).
        token_space: ``'projected'`` or ``'width'``.
        dense_mode: last-block mode of the tower's dense forward (``'value'``).
        train_refiner: ``True``: the Refiner is called as it is (gradients, train mode and
            fp32 are its owner's business); ``False``: it is frozen and held like the tower.
    """

    def __init__(self, tower: Union[nn.Module, FrozenModule], refiner: Optional[nn.Module] = None,
                 token_space: str = 'projected', dense_mode: str = 'value',
                 train_refiner: bool = False):
        self.tower = tower if isinstance(tower, FrozenModule) else FrozenModule(tower)
        self.token_space = check_token_space(token_space)
        self.dense_mode = dense_mode
        self.train_refiner = bool(train_refiner)
        if refiner is not None and not train_refiner:
            refiner = FrozenModule(refiner)
        self.refiner = refiner

    @classmethod
    def from_file(cls, tower: Union[nn.Module, FrozenModule], refiner_file: str,
                  dense_mode: str = 'value', options: Optional[dict] = None) -> 'RefinedTower':
        """``tower`` followed by the frozen Refiner of a Refiner file: the one way a trained
        Refiner is loaded (``RefinerBackbone``, the SCD teacher).

        The file gives the Refiner's shape and token space (:mod:`.refiner_file`).

        Args:
            tower: the frozen CLIP image tower it refines.
            refiner_file: the Refiner file (``tools/export_refiner.py``).
            dense_mode: last-block mode of the tower's dense forward.
            options: Refiner options from a config (``depth``, ``num_heads``, ...,
                ``token_space``): each must agree with the file, which completes them.

        Raises:
            ValueError: an option contradicts the file, or the Refiner was trained for a
                tower of another token width (both name the file).
        """
        loaded = load_refiner_file(refiner_file)
        recorded = dict(loaded.arch, token_space=loaded.token_space)
        options = {k: v for k, v in dict(options or {}).items() if k != 'type'}
        conflicts = {k: (v, recorded[k]) for k, v in options.items()
                     if k in recorded and recorded[k] != v}
        if conflicts:
            raise ValueError(f'refiner options {conflicts} (config, file) conflict with '
                             f'{refiner_file!r}')
        options.pop('token_space', None)
        refiner = build_refiner(dict(options, **loaded.arch), tower, loaded.token_space,
                                loaded.state_dict, source=refiner_file)
        return cls(tower, refiner, loaded.token_space, dense_mode)

    @property
    def frozen_refiner(self) -> Optional[nn.Module]:
        """The Refiner module itself (for its owner to register), or ``None``."""
        if isinstance(self.refiner, FrozenModule):
            return self.refiner.module
        return self.refiner

    @property
    def project_tokens(self) -> bool:
        """Whether the tower's tokens are projected before the Refiner."""
        return self.token_space == 'projected'

    def tokens(self, images: torch.Tensor, precision: str = 'fp32') -> torch.Tensor:
        """The tower's dense map in the token space (``B x D|C x h x w``, no gradient, in
        ``images``' dtype), computed in ``precision``."""
        return self.tower('forward_dense', images, mode=self.dense_mode,
                          project=self.project_tokens, precision=precision).dense

    def refine(self, tokens: torch.Tensor, precision: str = 'fp32',
               project: bool = True) -> torch.Tensor:
        """Refine a token-space map; with ``project`` also project it: ``B x D x h x w``.

        ``precision`` applies to the frozen parts (a trainable Refiner runs as it is); the
        projection never carries gradient.
        """
        check_precision(precision)
        refined = tokens
        if self.refiner is None:
            pass
        elif self.train_refiner:
            refined = self.refiner(tokens)
        else:
            refined = self.refiner('forward', tokens, precision=precision)
        if project and not self.project_tokens:
            refined = self.tower('project_map', refined, precision=precision)
        return refined

    def __call__(self, images: torch.Tensor, precision: str = 'fp32') -> torch.Tensor:
        """Images ``B x 3 x H x W`` -> refined, projected dense map ``B x D x h x w``."""
        return self.refine(self.tokens(images, precision), precision)
