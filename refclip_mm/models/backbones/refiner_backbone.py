"""RefinerBackbone: a frozen CLIP tower whose dense map goes through a trained Refiner."""
from typing import Any, Optional, Tuple

import torch

from ...registry import MODELS
from ...utils.renamed import refuse_renamed
from ..frozen import freeze_parts
from ..refined_tower import RefinedTower, build_refiner, check_token_space
from .clip_vit import CLIPViT


@MODELS.register_module()
class RefinerBackbone(CLIPViT):
    """A frozen CLIP tower + a trained Refiner, as an mmdet / mmseg backbone.

    Outputs like :class:`CLIPViT` with ``with_dense=True``: the block maps of
    ``out_indices`` (optionally as a pyramid), then the *refined* dense map
    ``B x D x h x w``. The tower and the Refiner are frozen.

    Args:
        refiner_file: a Refiner file (``tools/export_refiner.py``; its metadata gives the
            Refiner's shape and token space, see :mod:`refclip_mm.models.refiner_file`);
            ``None`` builds an untrained (identity) Refiner from ``refiner``.
        refiner: Refiner options (``depth``, ``num_heads``, ``mlp_ratio``,
            ``token_space``); with a file each must agree with it.
        **kwargs: :class:`CLIPViT` arguments (``with_dense`` is always on, the
            tower always fully frozen).
    """

    def __init__(self, refiner_file: Optional[str] = None, refiner: Optional[dict] = None,
                 **kwargs: Any):
        refuse_renamed(kwargs, dict(refiner_checkpoint='refiner_file'), 'RefinerBackbone')
        kwargs['with_dense'] = True
        if kwargs.get('trainable_blocks') is not None:
            raise ValueError('RefinerBackbone keeps the CLIP tower frozen; remove trainable_blocks')
        kwargs['frozen_stages'] = -1
        super().__init__(**kwargs)
        self.frozen_stages = self.tower.depth
        self._frozen_modules += self._freeze(self.tower.depth, None)
        options = dict(refiner or {})
        if refiner_file is not None:
            self.refined = RefinedTower.from_file(self.tower, refiner_file, self.dense_mode,
                                                  options)
        else:
            options.pop('type', None)
            token_space = check_token_space(options.pop('token_space', 'projected'),
                                            'refiner.token_space')
            self.refined = RefinedTower(self.tower, build_refiner(options, self.tower, token_space),
                                        token_space, self.dense_mode)
        self.token_space = self.refined.token_space
        self.refiner = self.refined.frozen_refiner  # registered here: its weights are saved
        self._frozen_modules += freeze_parts([self.refiner])
        self.project_dense = self.refined.project_tokens  # width: refine, then project

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Images ``B x 3 x H x W`` -> block maps..., refined dense map."""
        *features, dense = super().forward(x)
        return tuple(features) + (self.refined.refine(dense).contiguous(), )
