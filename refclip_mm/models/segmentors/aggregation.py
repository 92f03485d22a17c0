"""Cost aggregation of a Cat-Seg-style head: spatial (window attention per class) and
class (attention across classes per position) aggregation.

The cost embedding is kept as ``B x T x C x h x w`` (``T`` classes, ``C`` channels).
Spatial aggregation treats every (image, class) pair independently; class
aggregation treats every (image, pooled position) independently and has no
positional encoding over classes, so it is permutation-equivariant in ``T`` and
works for any number of classes. Both can run in chunks (classes resp. positions)
to bound peak memory; without autograd the chunks are written in place.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn


def _mlp(dim: int, ratio: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim * ratio), nn.GELU(), nn.Linear(dim * ratio, dim))


def _chunks(total: int, size: Optional[int]):
    size = total if not size or size <= 0 else size
    return [(s, min(s + size, total)) for s in range(0, total, size)]


class GuidedAttention(nn.Module):
    """Multi-head attention whose queries/keys also see a guidance vector per token.

    ``q, k = Linear([x, g])``, ``v = Linear(x)``. ``kind='softmax'`` is ordinary
    scaled dot-product attention (optionally masked), ``'linear'`` is linear
    attention with the ``elu + 1`` feature map.

    Args:
        dim: token channels ``C``. guidance_dim: guidance channels (0 = none).
        num_heads: heads (``C`` divisible by it). kind: ``softmax`` or ``linear``.
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, kind: str = 'softmax'):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed dim {dim} is not divisible by num_heads={num_heads}')
        if kind not in ('softmax', 'linear'):
            raise ValueError(f"attention kind must be 'softmax' or 'linear', got {kind!r}")
        self.num_heads, self.kind = num_heads, kind
        self.qk = nn.Linear(dim + guidance_dim, 2 * dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor] = None,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x``: ``N x L x C``; ``guidance``: ``N x L x G``; ``mask``: additive, broadcastable
        to ``N x heads x L x L`` (softmax only). Returns ``N x L x C``."""
        n, length, dim = x.shape
        qk_in = x if guidance is None else torch.cat([x, guidance], dim=-1)
        q, k = self.qk(qk_in).reshape(n, length, 2, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        v = self.v(x).reshape(n, length, self.num_heads, -1).transpose(1, 2)
        if self.kind == 'softmax':
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            q, k = F.elu(q) + 1, F.elu(k) + 1
            kv = torch.einsum('nhld,nhle->nhde', k, v)
            norm = torch.einsum('nhld,nhd->nhl', q, k.sum(dim=2)).clamp_min(1e-6)
            out = torch.einsum('nhld,nhde->nhle', q, kv) / norm[..., None]
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class WindowBlock(nn.Module):
    """Swin-style block on ``N x C x h x w`` maps: (shifted) window attention + MLP.

    Args:
        dim: channels. guidance_dim: channels of the appearance guidance map.
        num_heads: heads. window_size: window side in tokens. shift: shift the
            windows by half a window (Swin's SW-MSA, with its attention mask).
        mlp_ratio: hidden width of the MLP in units of ``dim``.
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, window_size: int,
                 shift: bool, mlp_ratio: int = 4):
        super().__init__()
        self.window_size, self.shift = window_size, shift
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = GuidedAttention(dim, guidance_dim, num_heads, 'softmax')
        self.mlp = _mlp(dim, mlp_ratio)

    def _partition(self, x: torch.Tensor) -> torch.Tensor:
        """``N x H x W x C`` (H, W multiples of the window) -> ``N*nW x ws*ws x C``."""
        n, h, w, c = x.shape
        ws = self.window_size
        x = x.reshape(n, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(-1, ws * ws, c)

    def _merge(self, windows: torch.Tensor, n: int, h: int, w: int) -> torch.Tensor:
        ws = self.window_size
        x = windows.reshape(n, h // ws, w // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h, w, -1)

    def _shift_mask(self, h: int, w: int, device) -> Optional[torch.Tensor]:
        ws, s = self.window_size, self.window_size // 2
        region = torch.zeros(1, h, w, 1, device=device)
        count = 0
        for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
                region[:, hs, wsl] = count
                count += 1
        ids = self._partition(region).squeeze(-1)             # nW x L
        mask = (ids[:, None, :] != ids[:, :, None]).float() * -100.0
        return mask                                            # nW x L x L

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor]) -> torch.Tensor:
        """``x``: ``N x h x w x C`` tokens, ``guidance``: ``N x h x w x G`` (or None)."""
        n, h, w, c = x.shape
        ws = self.window_size
        pad_b, pad_r = (-h) % ws, (-w) % ws
        y = self.norm1(x)
        if guidance is not None:
            y = torch.cat([y, guidance], dim=-1)
        y = F.pad(y, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = h + pad_b, w + pad_r
        shift = self.shift and min(hp, wp) > ws
        if shift:
            y = torch.roll(y, (-(ws // 2), -(ws // 2)), dims=(1, 2))
        windows = self._partition(y)
        mask = None
        if shift:
            mask = self._shift_mask(hp, wp, x.device).to(x.dtype)
            mask = mask.repeat(n, 1, 1)[:, None]                # N*nW x 1 x L x L
        attn = self.attn(windows[..., :c], windows[..., c:] if guidance is not None else None, mask)
        y = self._merge(attn, n, hp, wp)
        if shift:
            y = torch.roll(y, (ws // 2, ws // 2), dims=(1, 2))
        x = x + y[:, :h, :w]
        return x + self.mlp(self.norm2(x))


class SpatialAggregation(nn.Module):
    """Two window blocks (plain, shifted) over the spatial dims of every class's cost map."""

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, window_size: int,
                 mlp_ratio: int = 4):
        super().__init__()
        self.blocks = nn.ModuleList([
            WindowBlock(dim, guidance_dim, num_heads, window_size, shift, mlp_ratio)
            for shift in (False, True)])

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor]) -> torch.Tensor:
        """``x``: ``B x t x C x h x w`` (a chunk of classes); ``guidance``: ``B x G x h x w``."""
        b, t, c, h, w = x.shape
        y = x.permute(0, 1, 3, 4, 2).reshape(b * t, h, w, c)
        g = None
        if guidance is not None:
            g = guidance.permute(0, 2, 3, 1)[:, None].expand(b, t, h, w, -1).reshape(b * t, h, w, -1)
        for block in self.blocks:
            y = block(y, g)
        return y.reshape(b, t, h, w, c).permute(0, 1, 4, 2, 3)


class ClassAggregation(nn.Module):
    """Attention across classes at every pooled position (no order over classes).

    The ``h x w`` map is average-pooled by ``pool_size``, every position attends
    over the ``T`` classes (queries/keys see the projected text embedding of
    their class), and the update is upsampled (bilinear) and added to the input.
    """

    def __init__(self, dim: int, text_dim: int, num_heads: int, pool_size: Tuple[int, int] = (2, 2),
                 kind: str = 'linear', mlp_ratio: int = 4):
        super().__init__()
        self.pool_size = tuple(pool_size)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = GuidedAttention(dim, text_dim, num_heads, kind)
        self.mlp = _mlp(dim, mlp_ratio)

    def _update(self, tokens: torch.Tensor, text: Optional[torch.Tensor]) -> torch.Tensor:
        """``tokens``: ``N x T x C`` (one row per position); returns the residual update."""
        g = None if text is None else text[None].expand(tokens.shape[0], -1, -1)
        y = tokens + self.attn(self.norm1(tokens), g)
        y = y + self.mlp(self.norm2(y))
        return y - tokens

    def forward(self, x: torch.Tensor, text: Optional[torch.Tensor],
                chunk_size: Optional[int] = None) -> torch.Tensor:
        """``x``: ``B x T x C x h x w``; ``text``: ``T x G``. ``chunk_size`` (classes)
        bounds memory: positions are processed in groups of ``chunk_size * P / T``."""
        b, t, c, h, w = x.shape
        pooled = F.adaptive_avg_pool2d(x.reshape(b * t, c, h, w),
                                       (max(1, h // self.pool_size[0]), max(1, w // self.pool_size[1])))
        hp, wp = pooled.shape[-2:]
        tokens = pooled.reshape(b, t, c, hp * wp).permute(0, 3, 1, 2).reshape(b * hp * wp, t, c)
        del pooled
        positions = tokens.shape[0]
        step = None if not chunk_size else max(1, (chunk_size * positions) // t)
        parts = _chunks(positions, step)
        if len(parts) == 1:
            delta = self._update(tokens, text)
        elif torch.is_grad_enabled():
            delta = torch.cat([self._update(tokens[s:e], text) for s, e in parts])
        else:  # no autograd: overwrite the pooled tokens with their updates, chunk by chunk
            for s, e in parts:
                tokens[s:e] = self._update(tokens[s:e], text)
            delta = tokens
        delta = delta.reshape(b, hp, wp, t, c).permute(0, 3, 4, 1, 2)   # B x T x C x hp x wp
        return self._add_upsampled(x, delta, chunk_size)

    @staticmethod
    def _add_upsampled(x: torch.Tensor, delta: torch.Tensor, chunk_size: Optional[int]) -> torch.Tensor:
        b, t, c, h, w = x.shape
        parts = _chunks(t, chunk_size)

        def up(s, e):
            d = delta[:, s:e].reshape(b * (e - s), c, *delta.shape[-2:])
            d = F.interpolate(d, size=(h, w), mode='bilinear', align_corners=False)
            return d.reshape(b, e - s, c, h, w)

        if len(parts) == 1 or torch.is_grad_enabled():
            return x + torch.cat([up(s, e) for s, e in parts], dim=1)
        for s, e in parts:
            x[:, s:e] += up(s, e)
        return x
