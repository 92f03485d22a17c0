"""CatSegOVHead: cost volume, cost aggregation and upsampling decoder (Cat-Seg style)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS
from .aggregation import ClassAggregation, SpatialAggregation, _chunks
from .ov_head_base import OVDecodeHeadBase


def _conv_gn(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
                         nn.GroupNorm(max(1, out_ch // 16), out_ch), nn.ReLU(inplace=True))


class GuidedUpBlock(nn.Module):
    """x2 transposed-conv upsampling, concatenation of a guidance map, two 3x3 conv-GN-ReLU."""

    def __init__(self, in_ch: int, out_ch: int, guidance_ch: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
        self.convs = nn.Sequential(_conv_gn(out_ch + guidance_ch, out_ch), _conv_gn(out_ch, out_ch))

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor], classes: int) -> torch.Tensor:
        """``x``: ``(B*t) x C x h x w``; ``guidance``: ``B x G x 2h x 2w`` shared by the ``t`` classes."""
        x = self.up(x)
        if guidance is not None:
            b = guidance.shape[0]
            g = guidance[:, None].expand(b, classes, *guidance.shape[1:])
            g = g.reshape(b * classes, *guidance.shape[1:])
            x = torch.cat([x, g], dim=1)
        return self.convs(x)


class CostAggregationLayer(nn.Module):
    """Spatial aggregation (per class, in class chunks) then class aggregation."""

    def __init__(self, dim: int, appearance_dim: int, text_dim: int, num_heads: int,
                 window_size: int, pool_size: Tuple[int, int], class_attention: str, mlp_ratio: int):
        super().__init__()
        self.spatial = SpatialAggregation(dim, appearance_dim, num_heads, window_size, mlp_ratio)
        self.classes = ClassAggregation(dim, text_dim, num_heads, pool_size, class_attention,
                                        mlp_ratio)

    def forward(self, x: torch.Tensor, appearance: Optional[torch.Tensor],
                text: Optional[torch.Tensor], chunk_size: Optional[int]) -> torch.Tensor:
        """``x``: ``B x T x C x h x w`` -> same shape."""
        parts = _chunks(x.shape[1], chunk_size)
        if len(parts) == 1:
            x = self.spatial(x, appearance)
        elif torch.is_grad_enabled():
            x = torch.cat([self.spatial(x[:, s:e], appearance) for s, e in parts], dim=1)
        else:
            for s, e in parts:
                x[:, s:e] = self.spatial(x[:, s:e], appearance)
        return self.classes(x, text, chunk_size)


@MODELS.register_module()
class CatSegOVHead(OVDecodeHeadBase):
    """Cat-Seg-style open-vocabulary decode head (docs/method.md section 6.2).

    Input: the backbone tuple ``(g_1, ..., g_k, dense)``: guidance maps
    ``B x W x h x w`` (intermediate CLIP blocks, shallow to deep) and the dense
    CLIP map ``B x D x h x w``. Steps:

    1. cost volume ``B x T x h x w``: cosine of every dense token with each
       class's (prompt-ensembled) text embedding;
    2. a 7x7 conv embeds each class's cost map: ``B x T x C x h x w``;
    3. ``num_layers`` x (spatial aggregation: Swin-style (shifted) window
       attention per class, queries/keys guided by the projected dense map;
       class aggregation: attention over the ``T`` classes at every pooled
       position, guided by the projected text embeddings, no order over classes);
    4. decoder: ``len(decoder_dims)`` x2 upsampling blocks, each concatenating a
       projection of one guidance map (deepest first) upsampled to its resolution;
       a 3x3 conv gives one logit per class: ``B x T x (2^n h) x (2^n w)``.

    Args:
        text_dim: CLIP joint embedding dim ``D`` (512 for B/16, 768 for L/14).
        guidance_channels: channels of the guidance maps, shallow to deep
            (CLIP width per ``out_indices`` entry); ``()`` = no decoder guidance.
        class_embeddings / test_class_embeddings: class-embedding files (train /
            eval); rows picked by dataset class names through ``OVClassEmbeddingHook``.
        embed_dims: channels ``C`` of the cost embedding.
        appearance_dims / text_guidance_dims: projections of the dense map and
            of the text embeddings used as attention guidance (0 = none).
        num_layers, num_heads, window_size, pool_size, class_attention
            (``'linear'`` or ``'softmax'``), mlp_ratio: aggregation settings.
        decoder_dims / decoder_guidance_dims: channels of the decoder blocks and
            of the guidance projection each block concatenates.
        class_chunk_size: process the classes (and positions of the class
            aggregation) in chunks of this many classes; ``None`` = all at once.
            Without autograd (inference) chunks are written in place, so peak
            memory is the cost embedding plus one chunk's activations.
        in_channels / channels / num_classes: set automatically (mmseg's
            ``BaseDecodeHead`` arguments); other ``BaseDecodeHead`` kwargs
            (``loss_decode``, ``ignore_index``, ``align_corners``) pass through.
    """

    def __init__(self,
                 text_dim: int,
                 guidance_channels: Sequence[int] = (),
                 class_embeddings: Optional[str] = None,
                 test_class_embeddings: Optional[str] = None,
                 embed_dims: int = 128,
                 appearance_dims: int = 128,
                 text_guidance_dims: int = 128,
                 num_layers: int = 2,
                 num_heads: int = 4,
                 window_size: int = 12,
                 pool_size: Tuple[int, int] = (2, 2),
                 class_attention: str = 'linear',
                 mlp_ratio: int = 4,
                 decoder_dims: Sequence[int] = (64, 32),
                 decoder_guidance_dims: Sequence[int] = (32, 16),
                 class_chunk_size: Optional[int] = None,
                 **kwargs):
        bank = self._init_bank(class_embeddings, test_class_embeddings, text_dim)
        kwargs.setdefault('in_channels', text_dim)
        kwargs.setdefault('channels', decoder_dims[-1])
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs['num_classes'] = bank.num_classes(True if class_embeddings else False)
        super().__init__(**kwargs)
        self._attach_bank(bank)
        guidance_channels = list(guidance_channels)
        if guidance_channels and len(guidance_channels) != len(decoder_dims):
            raise ValueError(f'guidance_channels {guidance_channels} needs one entry per decoder '
                             f'block (decoder_dims {list(decoder_dims)}), or pass ()')
        self.text_dim = text_dim
        self.class_chunk_size = class_chunk_size
        self.cost_embed = nn.Conv2d(1, embed_dims, 7, padding=3)
        self.appearance_proj = nn.Sequential(
            nn.Conv2d(text_dim, appearance_dims, 3, padding=1), nn.ReLU()) if appearance_dims else None
        self.text_proj = nn.Sequential(
            nn.Linear(text_dim, text_guidance_dims), nn.ReLU()) if text_guidance_dims else None
        self.layers = nn.ModuleList([
            CostAggregationLayer(embed_dims, appearance_dims, text_guidance_dims, num_heads,
                                 window_size, tuple(pool_size), class_attention, mlp_ratio)
            for _ in range(num_layers)])
        # guidance maps, deepest first, upsampled x2, x4, ... to the decoder blocks' resolutions
        self.guidance_up = nn.ModuleList([
            nn.Sequential(nn.ConvTranspose2d(ch, gd, 2 ** (i + 1), stride=2 ** (i + 1)), nn.ReLU())
            for i, (ch, gd) in enumerate(zip(guidance_channels[::-1], decoder_guidance_dims))])
        dims = [embed_dims] + list(decoder_dims)
        self.decoder = nn.ModuleList([
            GuidedUpBlock(dims[i], dims[i + 1], decoder_guidance_dims[i] if guidance_channels else 0)
            for i in range(len(decoder_dims))])
        self.conv_seg = nn.Conv2d(decoder_dims[-1], 1, 3, padding=1)

    def cost_volume(self, dense: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Cosine similarity ``B x T x h x w`` of dense tokens ``B x D x h x w`` and ``T x D`` texts."""
        return torch.einsum('bdhw,td->bthw', F.normalize(dense, dim=1), F.normalize(text, dim=-1))

    def aggregate(self, dense: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Cost volume + aggregation: ``B x T x C x h x w``."""
        b, _, h, w = dense.shape
        t = text.shape[0]
        cost = self.cost_volume(dense, text)
        x = self.cost_embed(cost.reshape(b * t, 1, h, w)).reshape(b, t, -1, h, w)
        appearance = self.appearance_proj(dense) if self.appearance_proj is not None else None
        text_g = self.text_proj(F.normalize(text, dim=-1)) if self.text_proj is not None else None
        for layer in self.layers:
            x = layer(x, appearance, text_g, self.class_chunk_size)
        return x

    def decode(self, x: torch.Tensor, guidance: List[torch.Tensor]) -> torch.Tensor:
        """``B x T x C x h x w`` -> logits ``B x T x (2^n h) x (2^n w)``, in class chunks."""
        b, t, c, h, w = x.shape
        guides = [up(g) for up, g in zip(self.guidance_up, guidance[::-1])]
        guides += [None] * (len(self.decoder) - len(guides))

        def run(s, e):
            y = x[:, s:e].reshape(b * (e - s), c, h, w)
            for block, g in zip(self.decoder, guides):
                y = block(y, g, e - s)
            return self.conv_seg(y).reshape(b, e - s, *y.shape[-2:])

        parts = _chunks(t, self.class_chunk_size)
        if len(parts) == 1 or torch.is_grad_enabled():
            return torch.cat([run(s, e) for s, e in parts], dim=1)
        scale = 2 ** len(self.decoder)
        out = x.new_empty(b, t, h * scale, w * scale)
        for s, e in parts:
            out[:, s:e] = run(s, e)
        return out

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone tuple ``(guidance..., dense)`` -> logits ``B x T x H/p*2^n x W/p*2^n``."""
        dense, guidance = inputs[-1], list(inputs[:-1])
        n_guides = len(self.guidance_up)
        if n_guides and len(guidance) < n_guides:
            raise ValueError(f'CatSegOVHead expects {n_guides} guidance maps before the dense map, '
                             f'got {len(guidance)}: set the backbone out_indices accordingly')
        guidance = guidance[len(guidance) - n_guides:] if n_guides else []
        self.class_bank.check_dense_dim(dense, self.training)
        text = self.class_bank.embeddings(self.training).to(dense.dtype)
        return self.decode(self.aggregate(dense, text), guidance)
