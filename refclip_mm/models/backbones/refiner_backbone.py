"""RefinerBackbone: a frozen CLIP tower whose dense map goes through a trained Refiner."""
from typing import Any, Optional, Tuple

import torch

from ...registry import MODELS
from ..frozen import freeze_parts
from ..refined_tower import RefinedTower, build_refiner
from ..refiner_file import export_refiner, read_refiner_file  # noqa: F401 (re-exported)
from .clip_vit import CLIPViT


@MODELS.register_module()
class RefinerBackbone(CLIPViT):
    """A frozen CLIP tower + a trained Refiner, as an mmdet / mmseg backbone.

    Outputs like :class:`CLIPViT` with ``with_dense=True``: the block maps of
    ``out_indices`` (optionally as a pyramid), then the *refined* dense map
    ``B x D x h x w``. The tower and the Refiner are frozen.

    Args:
        refiner_checkpoint: a Refiner file (``tools/export_refiner.py``; its
            metadata gives the Refiner's shape and token space, see
            :mod:`refclip_mm.models.refiner_file`); ``None`` builds an
            untrained (identity) Refiner from ``refiner``.
        refiner: Refiner options (``depth``, ``num_heads``, ``mlp_ratio``);
            values recorded in the checkpoint are used, and a config value
            that contradicts them is an error.
        **kwargs: :class:`CLIPViT` arguments (``with_dense`` is always on, the
            tower always fully frozen).
    """

    def __init__(self, refiner_checkpoint: Optional[str] = None, refiner: Optional[dict] = None,
                 **kwargs: Any):
        kwargs['with_dense'] = True
        if kwargs.get('trainable_blocks') is not None:
            raise ValueError('RefinerBackbone keeps the CLIP tower frozen; remove trainable_blocks')
        kwargs['frozen_stages'] = -1
        super().__init__(**kwargs)
        self.frozen_stages = self.tower.depth
        self._frozen_modules += self._freeze(self.tower.depth, None)
        cfg = dict(refiner or {})
        cfg.pop('type', None)
        state = None
        if refiner_checkpoint is not None:
            state, recorded = read_refiner_file(refiner_checkpoint)
            conflicts = {k: (v, recorded[k]) for k, v in cfg.items()
                         if k in recorded and recorded[k] != v}
            if conflicts:
                raise ValueError(f'refiner options {conflicts} (config, file) conflict with '
                                 f'{refiner_checkpoint!r}')
            cfg.update(recorded)
        self.token_space = cfg.pop('token_space', 'projected')
        self.refiner = build_refiner(cfg, self.tower, self.token_space, state,
                                     source=refiner_checkpoint)
        self._frozen_modules += freeze_parts([self.refiner])
        self.refined = RefinedTower(self.tower, self.refiner, self.token_space, self.dense_mode)
        self.project_dense = self.refined.project_tokens  # width: refine, then project

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Images ``B x 3 x H x W`` -> block maps..., refined dense map."""
        *features, dense = super().forward(x)
        return tuple(features) + (self.refined.refine(dense).contiguous(), )
