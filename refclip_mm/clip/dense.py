"""Dense CLIP features (docs/method.md section 2): the one dense-forward implementation.

:class:`DenseCLIPTower` wraps an open_clip image tower without changing its
parameters (its state dict is ``visual.<open_clip keys>``) and adds:

* ``forward_dense(x, mode, out_indices)``: blocks ``1..L-1`` run unchanged;
  the last block runs in ``mode``; the patch tokens are normalised and
  projected to the joint embedding: a ``B x D x h x w`` map.
* ``encode_image(x)``: the tower's own image embedding (``B x D``: the CLS
  path, or SigLIP's attention-pool head), equal to open_clip's
  ``encode_image`` at the native size and defined at any size.
* ``region_features(dense, boxes)``: RoIAlign 1x1 of the dense map (``K x D``).

The positional embedding is resized to any ``h x w`` grid (bicubic,
``align_corners=False``, no antialias; the CLS entry kept) and EVA's rotary
embedding is recomputed for that grid. Three backends:
:class:`OpenCLIPViTTower` (open_clip ``VisionTransformer``),
:class:`EvaViTTower` (timm ``Eva`` inside open_clip's ``TimmModel``) and
:class:`SigLIPViTTower` (timm ``VisionTransformer`` without class token and
with an attention-pool head inside ``TimmModel``: SigLIP / SigLIP 2); use
:func:`wrap_image_tower` to pick one.

Attention: open_clip's ``ResidualAttentionBlock`` runs through
``F.scaled_dot_product_attention`` in every mode
(:func:`~refclip_mm.utils.attention.mha_self_attention`; ``nn.MultiheadAttention``'s
no-grad fast path would materialise the ``N x N`` matrix on CPU); timm's ``Eva`` and
``VisionTransformer`` use it themselves (timm's fused attention, on by default). Under
autocast (a frozen tower in bf16) the residual stream keeps the input's dtype: only the
matrix products run in low precision.

Dense modes of the last block (``x`` = tokens entering it):

* ``value`` (default): ``x + out_proj(v(ln_1(x)))``, then the MLP: every token
  attends only to itself;
* ``qq`` / ``kk``: attention weights from ``softmax(q q^T)`` / ``softmax(k k^T)``
  (self-correlation), values and the rest of the block unchanged;
* ``plain``: the last block as trained.

Then the final norm and the projection map every patch token to the joint
embedding. For SigLIP the projection is the attention-pool head taken per
token: the head's value projection, its ``proj`` and its MLP residual, i.e.
the head's output when its query attends to that token alone.
"""
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..utils.attention import is_plain_self_attention, mha_self_attention
from ..utils.regions import BoxesType, boxes_to_rois, region_features  # noqa: F401 (re-export)

DENSE_MODES = ('value', 'qq', 'kk', 'plain')


class DenseOutput(NamedTuple):
    """Result of :meth:`DenseCLIPTower.forward_dense`.

    Attributes:
        dense: ``B x D x h x w`` projected dense map (``None`` if not asked for).
        features: one ``B x C x h x w`` map per requested block index (tokens
            after that block, un-normalised, ``C`` = tower width), in the
            order of ``out_indices``.
    """
    dense: Optional[torch.Tensor]
    features: List[torch.Tensor]


def resize_abs_pos_embed(pos_embed: torch.Tensor, src_grid: Tuple[int, int],
                         dst_grid: Tuple[int, int], num_prefix: int = 1) -> torch.Tensor:
    """Resize a ``(num_prefix + h0*w0) x C`` position table to ``dst_grid``.

    The prefix (CLS) rows are kept; the grid part is resized with bicubic
    interpolation (``align_corners=False``, no antialias). Returns the table
    itself when the grids are equal.
    """
    if tuple(src_grid) == tuple(dst_grid):
        return pos_embed
    prefix, grid = pos_embed[:num_prefix], pos_embed[num_prefix:]
    channels = grid.shape[-1]
    grid = grid.reshape(1, src_grid[0], src_grid[1], channels).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(dst_grid), mode='bicubic', align_corners=False)
    grid = grid.to(pos_embed.dtype).permute(0, 2, 3, 1).reshape(-1, channels)
    return torch.cat([prefix, grid], dim=0)


def _valid_sizes(size: int, patch: int) -> str:
    low = (size // patch) * patch
    return f'{low} or {low + patch}' if low > 0 else f'{patch}'


class DenseCLIPTower(nn.Module):
    """Base class: a CLIP ViT image tower with a dense forward.

    Subclasses provide the backend hooks (``_embed``, ``_run_block``,
    ``_dense_block``, ``_project_tokens``, ``_pool``). Do not build this class
    directly; use :func:`wrap_image_tower` or
    :func:`refclip_mm.clip.build_image_tower`.

    Args:
        visual: the open_clip image tower (``model.visual``).
        pad_to_patch: zero-pad inputs on the right/bottom to the next multiple
            of the patch size instead of raising.
        window_size: if set, blocks not in ``global_blocks`` attend within
            non-overlapping ``window_size x window_size`` token windows (the
            CLS token, if the tower has one, joins every window and its outputs
            are averaged; the grid is zero-padded to whole windows and padded
            keys are masked).
            In ``qq``/``kk`` modes the last block of the dense path attends globally.
        global_blocks: block indices that keep global attention.
    """

    #: tokens before the patch grid in the block sequence (the CLS token; none for SigLIP)
    num_prefix: int = 1
    #: RGB mean / std (0-255 units) of the images the tower's weights expect; ``None``: OpenAI
    #: CLIP's (``refclip_mm.datasets.transforms.CLIP_MEAN`` / ``CLIP_STD``, also EVA02-CLIP's)
    image_mean: Optional[Tuple[float, float, float]] = None
    image_std: Optional[Tuple[float, float, float]] = None

    def __init__(self, visual: nn.Module, pad_to_patch: bool = False,
                 window_size: Optional[int] = None, global_blocks: Sequence[int] = ()):
        super().__init__()
        self.visual = visual
        self.pad_to_patch = pad_to_patch
        if window_size is not None and window_size < 1:
            raise ValueError(f'window_size must be a positive number of tokens, got {window_size}')
        self.window_size = window_size
        self.global_blocks = set(self.normalize_indices(global_blocks, 'global_blocks'))
        self.grad_checkpointing = False

    # ----------------------------------------------------------- properties
    @property
    def blocks(self) -> nn.ModuleList:
        """The transformer blocks (``depth`` of them)."""
        raise NotImplementedError

    @property
    def depth(self) -> int:
        return len(self.blocks)

    @property
    def patch_size(self) -> int:
        """Patch size in pixels (square patches)."""
        raise NotImplementedError

    @property
    def native_grid(self) -> Tuple[int, int]:
        """Token grid the position table was trained for."""
        raise NotImplementedError

    @property
    def width(self) -> int:
        """Token width ``C`` of the blocks."""
        raise NotImplementedError

    @property
    def embed_dim(self) -> int:
        """Joint embedding dimension ``D``."""
        raise NotImplementedError

    def stem_modules(self) -> List[Union[nn.Module, nn.Parameter]]:
        """Patch embedding, class token (if any), positions and pre-norm (frozen by
        ``frozen_stages=0``)."""
        raise NotImplementedError

    def head_modules(self) -> List[Union[nn.Module, nn.Parameter]]:
        """Final norm and projection (SigLIP: the attention-pool head)."""
        raise NotImplementedError

    # -------------------------------------------------------------- helpers
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in the backward pass (saves memory when training)."""
        self.grad_checkpointing = enable

    def normalize_indices(self, indices: Sequence[int], what: str = 'out_indices') -> List[int]:
        """Map block indices (negative allowed) to ``0..depth-1``; raise on out-of-range ones."""
        depth = self.depth
        result = []
        for index in indices:
            if not isinstance(index, int) or not -depth <= index < depth:
                raise ValueError(f'{what} {list(indices)} contains {index!r}, but this tower has '
                                 f'{depth} blocks: use indices 0..{depth - 1} (or -1..-{depth})')
            result.append(index % depth)
        return result

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Check that ``B x 3 x H x W`` fits the patch grid; pad when ``pad_to_patch``."""
        if x.dim() != 4:
            raise ValueError(f'expected images as B x 3 x H x W, got shape {tuple(x.shape)}')
        p = self.patch_size
        height, width = x.shape[-2:]
        pad_h, pad_w = (-height) % p, (-width) % p
        if pad_h or pad_w:
            if not self.pad_to_patch:
                raise ValueError(
                    f'input size {height}x{width} is not a multiple of the patch size {p}: use a '
                    f'height of {_valid_sizes(height, p)} and a width of {_valid_sizes(width, p)}, '
                    'or set pad_to_patch=True to zero-pad on the right/bottom')
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return x

    # -------------------------------------------------------- backend hooks
    def _embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, Any]]:
        """Images ``B x 3 x H x W`` -> tokens ``B x (num_prefix + h*w) x C`` and a context dict
        (``grid``: ``(h, w)``, plus backend extras such as ``rope``)."""
        raise NotImplementedError

    def _run_block(self, block: nn.Module, x: torch.Tensor, ctx: Dict[str, Any],
                   key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """One block as trained. ``key_mask`` (``N x L`` bool, True = valid key) masks padding."""
        raise NotImplementedError

    def _dense_block(self, block: nn.Module, x: torch.Tensor, ctx: Dict[str, Any],
                     mode: str) -> torch.Tensor:
        """The last block in ``value``/``qq``/``kk`` mode: ``B x L x C`` -> ``B x L x C``."""
        raise NotImplementedError

    def _norm_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """The tower's final norm: ``B x N x C`` -> ``B x N x C``."""
        raise NotImplementedError

    def _project_normed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Projection to the joint embedding of normed tokens: ``B x N x C`` -> ``B x N x D``."""
        raise NotImplementedError

    def _project_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final norm + projection of tokens: ``B x N x C`` -> ``B x N x D``."""
        return self._project_normed(self._norm_tokens(tokens))

    def project_map(self, dense: torch.Tensor) -> torch.Tensor:
        """Project a width-space map (``forward_dense(..., project=False)``):
        ``B x C x h x w`` -> ``B x D x h x w``."""
        tokens = dense.flatten(2).transpose(1, 2)
        return self._to_map(self._project_normed(tokens), tuple(dense.shape[-2:]))

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        """The tower's own pooling + projection of all tokens: ``B x L x C`` -> ``B x D``."""
        raise NotImplementedError

    def _window_context(self, ctx: Dict[str, Any], partition, batch: int) -> Dict[str, Any]:
        """Context for the windowed sequences of a batch of ``batch`` images; ``ctx`` is the
        full-grid context and ``partition`` maps ``h x w x R`` grids to ``nwin x ws*ws x R``."""
        return dict(ctx, grid=(self.window_size, self.window_size))

    # ------------------------------------------------------------ the loop
    def _block_forward(self, index: int, x: torch.Tensor, ctx: Dict[str, Any]) -> torch.Tensor:
        block = self.blocks[index]
        windowed = self.window_size is not None and index not in self.global_blocks
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(self._block_call, block, x, ctx, windowed, use_reentrant=False)
        return self._block_call(block, x, ctx, windowed)

    def _block_call(self, block: nn.Module, x: torch.Tensor, ctx: Dict[str, Any],
                    windowed: bool) -> torch.Tensor:
        if windowed:
            return self._windowed(block, x, ctx)
        return self._run_block(block, x, ctx)

    def _windowed(self, block: nn.Module, x: torch.Tensor, ctx: Dict[str, Any]) -> torch.Tensor:
        """Run ``block`` with attention inside ``window_size``-token windows."""
        batch, _, channels = x.shape
        (h, w), ws = ctx['grid'], self.window_size
        pad_h, pad_w = (-h) % ws, (-w) % ws
        nh, nw = (h + pad_h) // ws, (w + pad_w) // ws

        def partition(grid: torch.Tensor) -> torch.Tensor:
            # ... x h x w x R -> (... * nh * nw) x ws*ws x R
            lead = grid.shape[:-3]
            grid = F.pad(grid, (0, 0, 0, pad_w, 0, pad_h))
            grid = grid.reshape(*lead, nh, ws, nw, ws, grid.shape[-1]).transpose(-4, -3)
            return grid.reshape(-1, ws * ws, grid.shape[-1])

        n = self.num_prefix
        patches = partition(x[:, n:].reshape(batch, h, w, channels))
        prefix = x[:, :n].repeat_interleave(nh * nw, dim=0)
        seq = torch.cat([prefix, patches], dim=1)
        key_mask = None
        if pad_h or pad_w:
            valid = partition(torch.ones(h, w, 1, dtype=torch.bool, device=x.device)).squeeze(-1)
            valid = torch.cat([valid.new_ones(valid.shape[0], n), valid], dim=1)
            key_mask = valid.repeat(batch, 1)
        out = self._run_block(block, seq, self._window_context(ctx, partition, batch), key_mask)
        prefix_out = out[:, :n].reshape(batch, nh * nw, n, channels).mean(dim=1)
        grid = out[:, n:].reshape(batch, nh, nw, ws, ws, channels).transpose(2, 3)
        grid = grid.reshape(batch, nh * ws, nw * ws, channels)[:, :h, :w]
        return torch.cat([prefix_out, grid.reshape(batch, h * w, channels)], dim=1)

    def _to_map(self, tokens: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """``B x h*w x C`` tokens -> ``B x C x h x w`` (a view, no copy)."""
        return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], *grid)

    def forward_dense(self, x: torch.Tensor, mode: str = 'value',
                      out_indices: Sequence[int] = (), return_dense: bool = True,
                      project: bool = True) -> DenseOutput:
        """Dense forward (docs/method.md section 2.1).

        Args:
            x: images ``B x 3 x H x W``, ``H`` and ``W`` multiples of the patch
                size ``p`` (or padded when ``pad_to_patch``).
            mode: last-block mode, one of :data:`DENSE_MODES`.
            out_indices: blocks whose output tokens to return as
                ``B x C x h x w`` maps (always the blocks as trained; asking for
                the last block together with a non-``plain`` dense map costs one
                extra block).
            return_dense: compute the dense map; ``False`` stops after the
                last requested block.
            project: ``False`` returns the dense map before the projection
                (after the final norm), ``B x C x h x w``; :meth:`project_map`
                projects it later.

        Returns:
            :class:`DenseOutput` with ``dense`` ``B x D x h x w`` (``h = H/p``,
            ``w = W/p``) and ``features``.
        """
        if mode not in DENSE_MODES:
            raise ValueError(f'unknown dense mode {mode!r}; choose one of {DENSE_MODES}')
        indices = self.normalize_indices(out_indices)
        if not return_dense and not indices:
            raise ValueError('forward_dense needs return_dense=True or some out_indices')
        x = self.prepare_input(x)
        x, ctx = self._embed(x)
        grid = ctx['grid']
        last = self.depth - 1
        stop = last if return_dense else max(indices) + 1
        taken: Dict[int, torch.Tensor] = {}
        for index in range(min(stop, last)):
            x = self._block_forward(index, x, ctx)
            if index in indices:
                taken[index] = x
        dense = None
        if return_dense or last in indices:
            need_plain = last in indices or mode == 'plain'
            plain = self._block_forward(last, x, ctx) if need_plain else None
            if plain is not None:
                taken[last] = plain
            if return_dense:
                if mode == 'plain':
                    final = plain
                elif self.grad_checkpointing and torch.is_grad_enabled():
                    final = checkpoint(self._dense_block, self.blocks[last], x, ctx, mode,
                                       use_reentrant=False)
                else:
                    final = self._dense_block(self.blocks[last], x, ctx, mode)
                tokens = self._norm_tokens(final[:, self.num_prefix:])
                dense = self._to_map(self._project_normed(tokens) if project else tokens, grid)
        features = [self._to_map(taken[i][:, self.num_prefix:], grid) for i in indices]
        return DenseOutput(dense, features)

    def forward(self, x: torch.Tensor, mode: str = 'value') -> torch.Tensor:
        """Dense map ``B x D x h x w`` of images ``B x 3 x H x W``."""
        return self.forward_dense(x, mode=mode).dense

    def encode_image(self, x: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """The tower's own image embedding ``B x D`` (the CLS path; SigLIP: its attention-pool
        head): open_clip's ``encode_image`` at the native size; positions resized at other
        sizes."""
        x = self.prepare_input(x)
        x, ctx = self._embed(x)
        for index in range(self.depth):
            x = self._block_forward(index, x, ctx)
        pooled = self._pool(x)
        return F.normalize(pooled, dim=-1) if normalize else pooled

    def region_features(self, dense: torch.Tensor, boxes: BoxesType,
                        normalize: bool = True) -> torch.Tensor:
        """RoIAlign 1x1 region features of a dense map (docs/method.md section 2.2).

        Args:
            dense: ``B x D x h x w`` map from :meth:`forward_dense`.
            boxes: per image an ``n_i x 4`` tensor of ``(x1, y1, x2, y2)`` boxes in
                input-image pixels (a list of ``B`` tensors), or a ``K x 5``
                tensor of ``(batch_index, x1, y1, x2, y2)`` rows.
            normalize: L2-normalise the features.

        Returns:
            ``K x D`` features, boxes of image 0 first (``K = sum n_i``).
        """
        feats = region_features(dense, boxes, 1.0 / self.patch_size)
        return F.normalize(feats, dim=-1) if normalize else feats


# ---------------------------------------------------------------- backends
def _float_key_mask(key_mask: torch.Tensor, heads: int, length: int, dtype: torch.dtype,
                    merge_heads: bool) -> torch.Tensor:
    """``N x L`` bool (True = valid) -> additive mask ``N*heads x L x L`` or ``N x 1 x L x L``."""
    mask = torch.zeros(key_mask.shape, dtype=dtype, device=key_mask.device)
    mask.masked_fill_(~key_mask, float('-inf'))
    mask = mask[:, None, None, :]
    if merge_heads:
        return mask.expand(-1, heads, length, -1).reshape(-1, length, key_mask.shape[1])
    return mask.expand(-1, 1, length, -1)


class OpenCLIPViTTower(DenseCLIPTower):
    """Dense forward for open_clip's ``VisionTransformer`` (OpenAI-style CLIP, MetaCLIP,
    LAION ViTs)."""

    def __init__(self, visual: nn.Module, **kwargs: Any):
        if getattr(visual, 'attn_pool', None) is not None:
            raise NotImplementedError('image towers with an attentional pooler (CoCa-style) have no '
                                      'dense CLS-free projection; use a plain CLIP ViT')
        super().__init__(visual, **kwargs)

    @property
    def blocks(self) -> nn.ModuleList:
        return self.visual.transformer.resblocks

    @property
    def patch_size(self) -> int:
        return int(self.visual.patch_size[0])

    @property
    def native_grid(self) -> Tuple[int, int]:
        return tuple(self.visual.grid_size)

    @property
    def width(self) -> int:
        return int(self.visual.transformer.width)

    @property
    def embed_dim(self) -> int:
        return int(self.visual.output_dim)

    def stem_modules(self):
        v = self.visual
        return [v.conv1, v.class_embedding, v.positional_embedding, v.ln_pre]

    def head_modules(self):
        return [self.visual.ln_post] + ([self.visual.proj] if self.visual.proj is not None else [])

    def _embed(self, x):
        v = self.visual
        x = v.conv1(x).to(x.dtype)  # under autocast: keep the residual stream in the input's dtype
        grid = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)
        cls = v.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        pos = resize_abs_pos_embed(v.positional_embedding, self.native_grid, grid)
        x = torch.cat([cls, x], dim=1) + pos.to(x.dtype)
        return v.ln_pre(x), dict(grid=grid)

    def _run_block(self, block, x, ctx, key_mask=None):
        if not self._sdpa_block(block):
            if key_mask is None:
                return block(x)
            heads = block.attn.num_heads
            mask = _float_key_mask(key_mask, heads, x.shape[1], x.dtype, merge_heads=True)
            return block(x, attn_mask=mask)
        # open_clip's ResidualAttentionBlock, its attention through SDPA in every mode
        mask = None if key_mask is None else key_mask[:, None, None, :]
        x = x + block.ls_1(mha_self_attention(block.attn, block.ln_1(x), mask))
        return x + block.ls_2(block.mlp(block.ln_2(x)))

    @staticmethod
    def _sdpa_block(block: nn.Module) -> bool:
        from open_clip.transformer import ResidualAttentionBlock
        return (type(block) is ResidualAttentionBlock and not hasattr(block, 'ln_1_kv')
                and is_plain_self_attention(block.attn))

    @staticmethod
    def _split_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
        return t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)

    def _dense_block(self, block, x, ctx, mode):
        attn = block.attn
        custom = not isinstance(attn, nn.MultiheadAttention)
        y = block.ln_1(x)
        width = x.shape[-1]
        weight, bias = attn.in_proj_weight, attn.in_proj_bias
        if mode == 'value':
            out = F.linear(y, weight[2 * width:], None if bias is None else bias[2 * width:])
            if custom and attn.head_scale is not None:
                out = self._split_heads(out, attn.num_heads) * attn.head_scale
                out = out.transpose(1, 2).reshape(x.shape)
        else:
            if custom and attn.logit_scale is not None:
                raise NotImplementedError(f'{mode!r} mode is not implemented for scaled-cosine attention')
            q, k, v = F.linear(y, weight, bias).chunk(3, dim=-1)
            heads = attn.num_heads
            q, k, v = (self._split_heads(t, heads) for t in (q, k, v))
            if custom:
                q, k = attn.ln_q(q), attn.ln_k(k)
            s = q if mode == 'qq' else k
            out = F.scaled_dot_product_attention(s, s, v)
            if custom and attn.head_scale is not None:
                out = out * attn.head_scale
            out = out.transpose(1, 2).reshape(x.shape)
        if custom:
            out = attn.ln_inner(out)
        out = attn.out_proj(out)
        if custom:
            out = block.ln_attn(out)
        x = x + block.ls_1(out)
        return x + block.ls_2(block.mlp(block.ln_2(x)))

    def _norm_tokens(self, tokens):
        return self.visual.ln_post(tokens)

    def _project_normed(self, tokens):
        return tokens @ self.visual.proj if self.visual.proj is not None else tokens

    def _pool(self, x):
        pooled, _ = self.visual._pool(x)
        return pooled @ self.visual.proj if self.visual.proj is not None else pooled


class TimmTrunkTower(DenseCLIPTower):
    """What the towers that wrap a timm trunk (``visual.trunk`` inside open_clip's
    ``TimmModel``) share: where the blocks, the patch grid and the widths are."""

    @property
    def trunk(self) -> nn.Module:
        return self.visual.trunk

    @property
    def blocks(self) -> nn.Sequential:
        return self.trunk.blocks

    @property
    def patch_size(self) -> int:
        return int(self.trunk.patch_embed.patch_size[0])

    @property
    def native_grid(self) -> Tuple[int, int]:
        return tuple(self.trunk.patch_embed.grid_size)

    @property
    def width(self) -> int:
        return int(self.trunk.embed_dim)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def _patch_tokens(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """The trunk's patch embedding: images ``B x 3 x H x W`` -> normed tokens
        ``B x hw x C`` (no prefix, no positions) and the grid ``(h, w)``."""
        pe = self.trunk.patch_embed
        x = pe.proj(x).to(x.dtype)  # under autocast: keep the residual stream in the input's dtype
        grid = tuple(x.shape[-2:])
        return pe.norm(x.flatten(2).transpose(1, 2)), grid

    def _probe_embed_dim(self, dtype: torch.dtype) -> int:
        """The joint embedding width ``D``: what the head makes of one token."""
        probe = torch.zeros(1, 1, self.width, dtype=dtype)
        with torch.no_grad():
            return int(self._project_tokens(probe).shape[-1])


class EvaViTTower(TimmTrunkTower):
    """Dense forward for timm's ``Eva`` inside open_clip's ``TimmModel`` (EVA02-CLIP)."""

    def __init__(self, visual: nn.Module, **kwargs: Any):
        from timm.models.eva import EvaAttention, EvaBlock
        trunk = visual.trunk
        problems = []
        if getattr(trunk, 'attn_pool', None) is not None:
            problems.append('attention-pool head')
        if getattr(trunk, 'reg_token', None) is not None or trunk.num_prefix_tokens != 1:
            problems.append('register tokens')
        if getattr(trunk, 'rope_mixed', False):
            problems.append('mixed rope')
        if getattr(trunk, 'dynamic_img_size', False):
            problems.append('dynamic_img_size patch embedding')
        if any(type(b) is not EvaBlock or type(b.attn) is not EvaAttention for b in trunk.blocks):
            problems.append('blocks other than EvaBlock/EvaAttention (post-norm or rope-attention)')
        if problems:
            raise NotImplementedError(f'unsupported EVA tower ({", ".join(problems)}); supported are '
                                      'EVA02-CLIP towers such as EVA02-B-16 / EVA02-L-14(-336)')
        super().__init__(visual, **kwargs)
        self._embed_dim = self._probe_embed_dim(trunk.cls_token.dtype)

    def stem_modules(self):
        t = self.trunk
        mods = [t.patch_embed, t.cls_token, t.norm_pre]
        return mods + ([t.pos_embed] if t.pos_embed is not None else [])

    def head_modules(self):
        t = self.trunk
        return [t.norm, t.fc_norm, t.head, self.visual.head]

    def _rope(self, grid: Tuple[int, int], device, dtype) -> Optional[torch.Tensor]:
        rope = self.trunk.rope
        if rope is None:
            return None
        if tuple(grid) == tuple(rope.feat_shape or ()):
            return rope.get_embed()
        from timm.layers import build_rotary_pos_embed
        sin, cos = build_rotary_pos_embed(
            list(grid), bands=rope.bands, in_pixels=rope.in_pixels, ref_feat_shape=rope.ref_feat_shape,
            grid_offset=rope.grid_offset, grid_indexing=rope.grid_indexing,
            rotate_half=rope.rotate_half, device=device, grid_type=rope.grid_type,
            normalize_coords=rope.normalize_coords)
        return torch.cat([sin, cos], dim=-1)

    def _embed(self, x):
        t = self.trunk
        x, grid = self._patch_tokens(x)
        cls = t.cls_token.expand(x.shape[0], -1, -1).to(x.dtype)
        if t.pos_embed is None:
            x = torch.cat([cls, x], dim=1)
        elif t.no_embed_class:
            pos = resize_abs_pos_embed(t.pos_embed[0], self.native_grid, grid, num_prefix=0)
            x = torch.cat([cls, x + pos.to(x.dtype)], dim=1)
        else:
            pos = resize_abs_pos_embed(t.pos_embed[0], self.native_grid, grid, num_prefix=1)
            x = torch.cat([cls, x], dim=1) + pos.to(x.dtype)
        x = t.norm_pre(t.pos_drop(x))
        return x, dict(grid=grid, rope=self._rope(grid, x.device, x.dtype))

    def _window_context(self, ctx, partition, batch):
        h, w = ctx['grid']
        window_ctx = super()._window_context(ctx, partition, batch)
        rope = ctx.get('rope')
        if rope is not None:
            windows = partition(rope.reshape(h, w, -1))          # nwin x ws*ws x R
            window_ctx['rope'] = windows.repeat(batch, 1, 1).unsqueeze(1)
        return window_ctx

    def _run_block(self, block, x, ctx, key_mask=None):
        mask = None
        if key_mask is not None:
            mask = _float_key_mask(key_mask, block.attn.num_heads, x.shape[1], x.dtype,
                                   merge_heads=False)
        return block(x, rope=ctx.get('rope'), attn_mask=mask)

    def _dense_block(self, block, x, ctx, mode):
        from timm.layers import apply_rot_embed_cat
        attn = block.attn
        y = block.norm1(x)
        batch, length, _ = y.shape
        if attn.qkv is not None:
            dim = attn.qkv.weight.shape[0] // 3
            bias = None if attn.q_bias is None else torch.cat([attn.q_bias, attn.k_bias, attn.v_bias])
            if mode == 'value':
                v = F.linear(y, attn.qkv.weight[2 * dim:], None if bias is None else bias[2 * dim:])
            else:
                q, k, v = F.linear(y, attn.qkv.weight, bias).chunk(3, dim=-1)
        else:
            v = attn.v_proj(y)
            if mode != 'value':
                q, k = attn.q_proj(y), attn.k_proj(y)
        if mode == 'value':
            out = v
        else:
            def heads(t):
                return t.reshape(batch, length, attn.num_heads, -1).transpose(1, 2)

            s = attn.q_norm(heads(q)) if mode == 'qq' else attn.k_norm(heads(k))
            rope = ctx.get('rope')
            if rope is not None:
                npt = attn.num_prefix_tokens
                rotated = apply_rot_embed_cat(s[:, :, npt:], rope, half=attn.rotate_half)
                s = torch.cat([s[:, :, :npt], rotated], dim=2).type_as(v)
            out = F.scaled_dot_product_attention(s, s, heads(v))
            out = out.transpose(1, 2).reshape(batch, length, -1)
        out = attn.norm(out)
        if attn.gate is not None:
            out = out * attn.gate(y).sigmoid()
        out = attn.proj(out)
        if block.gamma_1 is not None:
            out = block.gamma_1 * out
        x = x + out
        mlp = block.mlp(block.norm2(x))
        if block.gamma_2 is not None:
            mlp = block.gamma_2 * mlp
        return x + mlp

    def _norm_tokens(self, tokens):
        return self.trunk.norm(tokens)

    def _project_normed(self, tokens):
        t = self.trunk
        return self.visual.head(t.head(t.fc_norm(tokens)))

    def _pool(self, x):
        return self.visual.head(self.trunk.forward_head(self.trunk.norm(x)))


class SigLIPViTTower(TimmTrunkTower):
    """Dense forward for timm's ``VisionTransformer`` with an attention-pool (MAP) head inside
    open_clip's ``TimmModel``: the SigLIP and SigLIP 2 image towers (``ViT-B-16-SigLIP2``,
    ``ViT-SO400M-14-SigLIP2``, ...).

    These towers have no class token: the blocks see only the ``h*w`` patch tokens, and the
    image embedding is the head's pooling (a learned latent query attending over all tokens,
    ``proj``, then ``x + mlp(norm(x))``). The head is the tower's projection: the dense map
    takes every token through it as if the latent query attended to that token alone
    (:meth:`_project_normed`, docs/method.md section 2.1).
    """

    num_prefix = 0
    # SigLIP's normalisation (mean = std = 0.5; configs: configs/_base_/siglip_normalization.py)
    image_mean = (127.5, 127.5, 127.5)
    image_std = (127.5, 127.5, 127.5)

    def __init__(self, visual: nn.Module, **kwargs: Any):
        from timm.layers import Attention, AttentionPoolLatent, PatchEmbed
        from timm.models.vision_transformer import Block
        trunk = visual.trunk
        problems = []
        pool = getattr(trunk, 'attn_pool', None)
        if not isinstance(pool, AttentionPoolLatent):
            problems.append('no attention-pool (MAP) head')
        else:
            if pool.latent_len != 1 or pool.pool != 'token':
                problems.append('a head with several latent queries')
            if pool.pos_embed is not None:
                problems.append('a head with its own position table')
            if pool.mlp is None:
                problems.append('a head without projection and MLP')
        if trunk.num_prefix_tokens != 0:
            problems.append('class or register tokens')
        if type(trunk.patch_embed) is not PatchEmbed:
            problems.append(f'{type(trunk.patch_embed).__name__} patch embedding')
        if any(type(b) is not Block or type(b.attn) is not Attention for b in trunk.blocks):
            problems.append('blocks other than timm Block/Attention')
        if problems:
            raise NotImplementedError(f'unsupported SigLIP tower ({", ".join(problems)}); supported '
                                      'are timm ViTs without class token and with a MAP head, such '
                                      'as the image towers of ViT-B-16-SigLIP2 / ViT-SO400M-14-SigLIP2')
        super().__init__(visual, **kwargs)
        self._embed_dim = self._probe_embed_dim(trunk.patch_embed.proj.weight.dtype)

    def stem_modules(self):
        t = self.trunk
        return [t.patch_embed, t.norm_pre] + ([t.pos_embed] if t.pos_embed is not None else [])

    def head_modules(self):
        t = self.trunk
        return [t.norm, t.attn_pool, t.fc_norm, t.head, self.visual.head]

    def _embed(self, x):
        t = self.trunk
        x, grid = self._patch_tokens(x)
        if t.pos_embed is not None:
            pos = resize_abs_pos_embed(t.pos_embed[0], self.native_grid, grid, num_prefix=0)
            x = x + pos.to(x.dtype)
        return t.norm_pre(t.pos_drop(x)), dict(grid=grid)

    def _run_block(self, block, x, ctx, key_mask=None):
        mask = None
        if key_mask is not None:
            mask = _float_key_mask(key_mask, block.attn.num_heads, x.shape[1], x.dtype,
                                   merge_heads=False)
        return block(x, attn_mask=mask)

    def _dense_block(self, block, x, ctx, mode):
        attn = block.attn
        y = block.norm1(x)
        batch, length, _ = y.shape
        dim = attn.attn_dim
        weight, bias = attn.qkv.weight, attn.qkv.bias
        if mode == 'value':
            out = F.linear(y, weight[2 * dim:], None if bias is None else bias[2 * dim:])
        else:
            def heads(t):
                return t.reshape(batch, length, attn.num_heads, attn.head_dim).transpose(1, 2)

            q, k, v = F.linear(y, weight, bias).chunk(3, dim=-1)
            s = attn.q_norm(heads(q)) if mode == 'qq' else attn.k_norm(heads(k))
            out = F.scaled_dot_product_attention(s, s, heads(v))
            out = out.transpose(1, 2).reshape(batch, length, dim)
        out = attn.norm(out)
        gate = getattr(attn, 'gate', None)
        if gate is not None:
            out = out * gate(y).sigmoid()
        x = x + block.ls1(attn.proj(out))
        return x + block.ls2(block.mlp(block.norm2(x)))

    def _norm_tokens(self, tokens):
        return self.trunk.norm(tokens)

    def _head_value(self, tokens: torch.Tensor) -> torch.Tensor:
        """The MAP head applied to each token alone: ``B x N x C`` -> ``B x N x C'``.

        With all of the latent query's attention on token ``i`` the head's attention output is
        that token's value (the second half of ``kv``), whatever the query; then ``proj`` and
        the head's MLP residual ``x + mlp(norm(x))``, as the head runs them.
        """
        pool = self.trunk.attn_pool
        half = pool.kv.weight.shape[0] // 2
        bias = pool.kv.bias
        out = F.linear(tokens, pool.kv.weight[half:], None if bias is None else bias[half:])
        out = pool.proj_drop(pool.proj(out))
        return out + pool.mlp(pool.norm(out))

    def _project_normed(self, tokens):
        t = self.trunk
        return self.visual.head(t.head(t.head_drop(t.fc_norm(self._head_value(tokens)))))

    def _pool(self, x):
        return self.visual.head(self.trunk.forward_head(self.trunk.norm(x)))


def wrap_image_tower(visual: nn.Module, **kwargs: Any) -> DenseCLIPTower:
    """Wrap an open_clip image tower (``model.visual``) in its dense backend.

    Args:
        visual: open_clip ``VisionTransformer``, or ``TimmModel`` with an ``Eva`` trunk or a
            timm ``VisionTransformer`` trunk with a MAP head (SigLIP / SigLIP 2).
        **kwargs: :class:`DenseCLIPTower` options (``pad_to_patch``,
            ``window_size``, ``global_blocks``).
    """
    from open_clip.transformer import VisionTransformer
    if isinstance(visual, VisionTransformer):
        return OpenCLIPViTTower(visual, **kwargs)
    trunk = getattr(visual, 'trunk', None)
    if trunk is not None and type(trunk).__name__ == 'Eva':
        return EvaViTTower(visual, **kwargs)
    from timm.models.vision_transformer import VisionTransformer as TimmViT
    if isinstance(trunk, TimmViT) and getattr(trunk, 'global_pool', None) == 'map':
        return SigLIPViTTower(visual, **kwargs)
    kind = type(trunk).__name__ if trunk is not None else type(visual).__name__
    raise NotImplementedError(f'{kind} image towers are not supported: only CLIP ViTs '
                              '(open_clip VisionTransformer, EVA02-CLIP via timm Eva, SigLIP / '
                              'SigLIP 2 via timm VisionTransformer with a MAP head)')
