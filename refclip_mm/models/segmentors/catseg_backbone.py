"""CatSegCLIPViT: the CLIP backbone of a Cat-Seg-style segmentor (guidance maps + dense map)."""
from typing import List

from torch import nn

from ...registry import MODELS
from ..backbones.clip_vit import CLIPViT
from ..frozen import freeze_parts

FINETUNE_MODES = ('none', 'attention', 'all')


@MODELS.register_module()
class CatSegCLIPViT(CLIPViT):
    """``CLIPViT`` with ``with_dense=True`` and Cat-Seg's fine-tuning choice.

    Outputs ``(block maps per out_indices..., dense map)`` like ``CLIPViT``:
    the block maps (``B x W x h x w``) are the decoder guidance, the dense map
    (``B x D x h x w``) feeds the cost volume.

    Args:
        finetune: ``'attention'`` (Cat-Seg's default: only the attention layers
            of every block train, i.e. q/k/v and output projections), ``'none'``
            (frozen tower) or ``'all'`` (every block; stem, final norm and
            projection stay frozen). Overrides ``frozen_stages``/``trainable_blocks``.
        out_indices: guidance blocks (B/16: ``(3, 7)``; L/14: ``(7, 15)``).
        other args: as :class:`~refclip_mm.models.backbones.CLIPViT`.
    """

    def __init__(self, finetune: str = 'attention', out_indices=(3, 7), **kwargs):
        if finetune not in FINETUNE_MODES:
            raise ValueError(f'finetune must be one of {FINETUNE_MODES}, got {finetune!r}')
        for key in ('frozen_stages', 'trainable_blocks', 'with_dense', 'pyramid_scales'):
            if key in kwargs:
                raise ValueError(f'CatSegCLIPViT sets {key} itself; use finetune= instead')
        super().__init__(out_indices=out_indices, with_dense=True, frozen_stages=-1, **kwargs)
        self.finetune = finetune
        self._frozen_modules = self._freeze_for(finetune)

    def _freeze_for(self, finetune: str) -> List[nn.Module]:
        tower = self.tower
        frozen = freeze_parts([tower])  # all of it; the fine-tuned parts are switched back on
        if finetune == 'none':
            return frozen
        trainable = []
        for index, block in enumerate(tower.blocks):
            if finetune == 'all':
                trainable.append(block)
                continue
            attn = getattr(block, 'attn', None)
            if not isinstance(attn, nn.Module):
                raise TypeError(f'block {index} of the tower ({type(block).__name__}) has no .attn '
                                "module: finetune='attention' is not supported for it")
            trainable.append(attn)
        for module in trainable:
            module.requires_grad_(True)
        return freeze_parts(tower.stem_modules() + tower.head_modules())  # kept in eval mode
