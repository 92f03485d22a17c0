"""Self-attention with the weights of an ``nn.MultiheadAttention``, through SDPA.

``nn.MultiheadAttention`` takes a "fast path" in eval mode without gradient that, on CPU,
materialises the ``N x N`` attention matrix (``bmm`` + ``softmax``); a frozen tower at 1024 px
(4097 tokens) pays for that in time and memory. :func:`mha_self_attention` computes the same
function with ``F.scaled_dot_product_attention`` (fused kernels) in every mode, so the frozen
teacher, the Refiner and the trained student all attend the same way.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


def mha_self_attention(attn: nn.MultiheadAttention, x: torch.Tensor,
                       attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``attn(x, x, x, need_weights=False)[0]`` for batch-first ``B x N x D`` tokens.

    Args:
        attn: a batch-first ``nn.MultiheadAttention`` with packed in-projection weights.
        x: ``B x N x D`` tokens.
        attn_mask: optional mask broadcastable to ``B x heads x N x N`` (bool: True = attend,
            or additive float).

    Returns:
        ``B x N x D``.
    """
    batch, num, dim = x.shape
    heads = attn.num_heads
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.reshape(batch, num, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
    dropout = attn.dropout if attn.training else 0.0
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
    return attn.out_proj(out.transpose(1, 2).reshape(batch, num, dim))


def is_plain_self_attention(attn: nn.Module) -> bool:
    """Whether :func:`mha_self_attention` computes ``attn`` (batch-first, packed, no extras)."""
    return (isinstance(attn, nn.MultiheadAttention) and attn.batch_first
            and attn._qkv_same_embed_dim and attn.in_proj_weight is not None
            and attn.bias_k is None and attn.bias_v is None and not attn.add_zero_attn)
