"""CLIPViT: a CLIP ViT image tower as an mmdet / mmseg backbone."""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from ...clip import DENSE_MODES, build_image_tower
from ...registry import MODELS
from ..frozen import FrozenPartsMixin, freeze_parts

PYRAMID_SCALES = (4, 2, 1, 0.5)


class SimpleFeaturePyramid(nn.Module):
    """Per-level rescaling of single-scale ViT maps (docs/method.md section 6.1).

    Scale ``4``: two stride-2 deconvolutions (norm + GELU between); ``2``: one
    deconvolution; ``1``: identity; ``0.5``: 2x2 max-pool. Channels are kept.

    Args:
        channels: channels ``C`` of every input map.
        scales: one scale per input map, each in :data:`PYRAMID_SCALES`.
        norm_cfg: mmcv norm config used inside the x4 branch.
    """

    def __init__(self, channels: int, scales: Sequence[float], norm_cfg: Dict[str, Any]):
        super().__init__()
        bad = [s for s in scales if s not in PYRAMID_SCALES]
        if bad:
            raise ValueError(f'pyramid scales {list(scales)} contain {bad}; each must be one of '
                             f'{PYRAMID_SCALES}')
        self.scales = tuple(scales)
        levels = []
        for scale in scales:
            if scale == 4:
                levels.append(nn.Sequential(
                    nn.ConvTranspose2d(channels, channels, 2, stride=2),
                    build_norm_layer(norm_cfg, channels)[1], nn.GELU(),
                    nn.ConvTranspose2d(channels, channels, 2, stride=2)))
            elif scale == 2:
                levels.append(nn.ConvTranspose2d(channels, channels, 2, stride=2))
            elif scale == 1:
                levels.append(nn.Identity())
            else:
                levels.append(nn.MaxPool2d(2, stride=2))
        self.levels = nn.ModuleList(levels)

    def forward(self, maps: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """``B x C x h x w`` maps -> ``B x C x (s*h) x (s*w)`` maps."""
        return [level(m) for level, m in zip(self.levels, maps)]


@MODELS.register_module()
class CLIPViT(FrozenPartsMixin, BaseModule):
    """CLIP ViT backbone with dense CLIP features, for mmdet and mmseg.

    Outputs a tuple: one ``B x C x h x w`` map per ``out_indices`` entry (block
    outputs, ``C`` = tower width, ``h = H/p``; rescaled per level when
    ``pyramid_scales`` is set), followed, when ``with_dense``, by the dense
    CLIP map ``B x D x h x w`` (docs/method.md section 2) for region scoring.
    Every map is contiguous in the standard ``NCHW`` layout: the tower's
    token maps are transposed views, convolutions keep that (channels-last)
    layout, and mmcv's RoIAlign reads memory as ``NCHW`` on CPU and GPU alike,
    so a neck fed with views hands the RoI head scrambled region features.

    Args:
        clip_model: open_clip model name (``'ViT-B-16'``, ``'EVA02-L-14'``, ...)
            or an architecture dict (see :mod:`refclip_mm.clip.factory`); ``None``: the
            architecture ``pretrained`` records (a CLIP or tower file of this package). A
            file that records another architecture is refused, naming both.
        pretrained: local CLIP weight file (any format
            :func:`refclip_mm.clip.build_clip` reads); loaded at construction.
        checkpoint_prefix: prefix of the CLIP keys in that file (auto-detected).
        quick_gelu: override the architecture's activation.
        out_indices: blocks whose outputs to return (negative allowed).
        pyramid_scales: per-output rescaling, e.g. ``(4, 2, 1, 0.5)`` for
            detectors; ``None`` keeps stride ``p`` for all.
        pyramid_norm_cfg: norm inside the x4 pyramid branch.
        with_dense: append the dense map as the last output.
        dense_mode: last-block mode of the dense map (``value``/``qq``/``kk``/``plain``).
        frozen_stages: ``-1`` nothing frozen; ``0`` the stem (patch embedding,
            class token, positions, pre-norm); ``k`` the stem and blocks
            ``0..k-1``; ``depth`` the whole tower including the final norm
            and projection.
        trainable_blocks: alternative to ``frozen_stages``: freeze the whole
            tower except these blocks.
        grad_checkpointing: recompute block activations in backward.
        window_size / global_blocks: windowed attention (tokens) for large
            inputs in all blocks except ``global_blocks``.
        pad_to_patch: zero-pad inputs to a multiple of the patch size instead
            of raising.
        init_cfg: ``dict(type='Pretrained', checkpoint=..., prefix=...)`` is
            loaded like ``pretrained``/``checkpoint_prefix``; other init
            configs apply to the pyramid layers.
    """

    def __init__(self,
                 clip_model: Optional[Union[str, Dict[str, Any]]] = None,
                 pretrained: Optional[str] = None,
                 checkpoint_prefix: Optional[str] = None,
                 quick_gelu: Optional[bool] = None,
                 out_indices: Sequence[int] = (3, 5, 7, 11),
                 pyramid_scales: Optional[Sequence[float]] = None,
                 pyramid_norm_cfg: Dict[str, Any] = dict(type='BN', requires_grad=True),
                 with_dense: bool = False,
                 dense_mode: str = 'value',
                 frozen_stages: int = -1,
                 trainable_blocks: Optional[Sequence[int]] = None,
                 grad_checkpointing: bool = False,
                 window_size: Optional[int] = None,
                 global_blocks: Sequence[int] = (),
                 pad_to_patch: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        pretrained, checkpoint_prefix, init_cfg = self._split_init_cfg(
            pretrained, checkpoint_prefix, init_cfg)
        super().__init__(init_cfg=init_cfg)
        if dense_mode not in DENSE_MODES:
            raise ValueError(f'unknown dense_mode {dense_mode!r}; choose one of {DENSE_MODES}')
        if pretrained is not None and not osp.isfile(osp.expanduser(str(pretrained))):
            raise FileNotFoundError(
                f'CLIP weight file not found: {pretrained!r}. Set the backbone\'s pretrained '
                '(config key model.backbone.pretrained; clip_pretrained at the top of the shipped '
                'configs) to a local CLIP file, or to None when the tower comes from a trained '
                'checkpoint (--checkpoint / load_from)')
        self.tower = build_image_tower(clip_model, pretrained, quick_gelu=quick_gelu,
                                       checkpoint_prefix=checkpoint_prefix,
                                       pad_to_patch=pad_to_patch, window_size=window_size,
                                       global_blocks=global_blocks)
        self.out_indices = self.tower.normalize_indices(list(out_indices))
        if not self.out_indices and not with_dense:
            raise ValueError('CLIPViT needs out_indices or with_dense=True')
        self.with_dense = with_dense
        self.dense_mode = dense_mode
        self.project_dense = True  # False: the dense output stays in the tower's width space
        self.pyramid = None
        if pyramid_scales is not None:
            if len(pyramid_scales) != len(self.out_indices):
                raise ValueError(f'pyramid_scales {list(pyramid_scales)} needs one scale per '
                                 f'out_indices entry {self.out_indices}')
            self.pyramid = SimpleFeaturePyramid(self.tower.width, pyramid_scales, pyramid_norm_cfg)
        self.out_channels = [self.tower.width] * len(self.out_indices) + (
            [self.tower.embed_dim] if with_dense else [])
        self.tower.set_grad_checkpointing(grad_checkpointing)
        self.frozen_stages = frozen_stages
        self.trainable_blocks = trainable_blocks
        self._frozen_modules = self._freeze(frozen_stages, trainable_blocks)

    @staticmethod
    def _split_init_cfg(pretrained, prefix, init_cfg):
        """Take a ``Pretrained`` init_cfg out of ``init_cfg``: we load it ourselves."""
        cfgs = copy.deepcopy(init_cfg)
        if cfgs is None:
            return pretrained, prefix, None
        single = isinstance(cfgs, dict)
        cfgs = [cfgs] if single else list(cfgs)
        rest = []
        for cfg in cfgs:
            if cfg.get('type') == 'Pretrained':
                if pretrained is not None:
                    raise ValueError('give the CLIP weights either as pretrained= or as '
                                     'init_cfg=dict(type="Pretrained", ...), not both')
                pretrained = cfg['checkpoint']
                prefix = cfg.get('prefix', prefix)
            else:
                rest.append(cfg)
        if not rest:
            return pretrained, prefix, None
        return pretrained, prefix, rest[0] if single else rest

    def _freeze(self, frozen_stages: int, trainable_blocks: Optional[Sequence[int]]) -> List[nn.Module]:
        tower, depth = self.tower, self.tower.depth
        if trainable_blocks is not None and frozen_stages != -1:
            raise ValueError('set either frozen_stages or trainable_blocks, not both')
        if not -1 <= frozen_stages <= depth:
            raise ValueError(f'frozen_stages={frozen_stages} is outside -1..{depth} for a '
                             f'{depth}-block tower')
        if trainable_blocks is not None:
            keep = set(tower.normalize_indices(list(trainable_blocks), 'trainable_blocks'))
            frozen = [b for i, b in enumerate(tower.blocks) if i not in keep]
            frozen += tower.stem_modules() + tower.head_modules()
        else:
            frozen = []
            if frozen_stages >= 0:
                frozen += tower.stem_modules() + list(tower.blocks[:frozen_stages])
            if frozen_stages == depth:
                frozen += tower.head_modules()
        return freeze_parts(frozen)

    @property
    def tower_frozen(self) -> bool:
        """True when no tower parameter is trainable (the tower then runs without autograd)."""
        return not any(p.requires_grad for p in self.tower.parameters())

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Images ``B x 3 x H x W`` -> tuple of maps (see the class docstring)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.tower_frozen):
            out = self.tower.forward_dense(x, mode=self.dense_mode, out_indices=self.out_indices,
                                           return_dense=self.with_dense,
                                           project=self.project_dense)
        features = list(out.features)
        if self.pyramid is not None:
            features = self.pyramid(features)
        if self.with_dense:
            features.append(out.dense)
        return tuple(f.contiguous() for f in features)
