"""The Refiner (docs/method.md section 4.1): a small residual transformer on CLIP's dense
tokens."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from ...registry import MODELS
from ...utils.attention import mha_self_attention


class PreNormBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``.

    ``attn`` is an ``nn.MultiheadAttention`` (its parameters and state-dict keys), computed
    through ``scaled_dot_product_attention`` (:func:`~refclip_mm.utils.attention.mha_self_attention`).

    Args:
        dim: token width ``D``.
        num_heads: attention heads (``D`` must be divisible by it).
        mlp_ratio: hidden width of the MLP as a multiple of ``D``.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'Refiner width {dim} is not divisible by num_heads={num_heads}')
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x N x D`` -> ``B x N x D``."""
        x = x + mha_self_attention(self.attn, self.norm1(x))
        return x + self.mlp(self.norm2(x))


@MODELS.register_module()
class Refiner(BaseModule):
    """Refines CLIP's dense tokens; the identity until trained.

    ``refined = x + out(blocks(x))`` where ``blocks`` is a stack of ``depth``
    pre-norm transformer blocks and ``out`` a linear layer initialised to zero.
    No positional embedding: it works on any token grid. Reconstruction
    (docs/method.md): the paper describes a lightweight module, not its layers.

    Args:
        dim: token width ``D`` (the CLIP joint embedding dim for projected
            tokens, the tower width otherwise).
        depth: number of blocks ``K`` (default 2).
        num_heads: attention heads (default 8).
        mlp_ratio: MLP width multiple (default 4).
        init_cfg: mmengine init config (the zero output layer is kept zero).
    """

    def __init__(self, dim: int, depth: int = 2, num_heads: int = 8, mlp_ratio: float = 4.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if depth < 1:
            raise ValueError(f'Refiner depth must be >= 1, got {depth}')
        self.dim = dim
        self.blocks = nn.Sequential(*[PreNormBlock(dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.out = nn.Linear(dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """``B x N x D`` tokens -> refined ``B x N x D`` tokens."""
        if tokens.dim() != 3 or tokens.shape[-1] != self.dim:
            raise ValueError(f'Refiner expects B x N x {self.dim} tokens, got {tuple(tokens.shape)}'
                             ' (was it trained for another tower or token space?)')
        return tokens + self.out(self.blocks(tokens))

    def forward(self, dense: torch.Tensor) -> torch.Tensor:
        """``B x D x h x w`` dense map -> refined ``B x D x h x w`` map."""
        if dense.dim() != 4 or dense.shape[1] != self.dim:
            raise ValueError(f'Refiner expects a B x {self.dim} x h x w map, got '
                             f'{tuple(dense.shape)} (was it trained for another tower or token '
                             'space?)')
        b, d, h, w = dense.shape
        tokens = dense.flatten(2).transpose(1, 2)
        return self.forward_tokens(tokens).transpose(1, 2).reshape(b, d, h, w)
