"""Losses of the method: SCD (docs/method.md section 3), dense InfoNCE and its contaminant
filter (section 4) with the per-token cosine loss stage 1 uses instead (docs/method.md), CLIPSelf
and RegionCLIP (section 5), and the RoIAlign token-grid helper."""
from .dense_infonce import (DenseCosineLoss, DenseInfoNCELoss, contaminant_mask, dense_cosine_loss,
                            dense_infonce_loss)
from .rla_losses import (CLIP_LOGIT_SCALE, CLIPSelfLoss, RegionCLIPLoss, clipself_loss,
                         concept_pseudo_labels, regionclip_loss)
from .scd import SCDLoss, auto_block_rows, correlation_agreement, scd_loss, scd_loss_reference
from .utils import region_tokens

__all__ = [
    'SCDLoss', 'scd_loss', 'scd_loss_reference', 'correlation_agreement', 'auto_block_rows',
    'DenseInfoNCELoss', 'dense_infonce_loss', 'contaminant_mask', 'DenseCosineLoss',
    'dense_cosine_loss',
    'CLIPSelfLoss', 'clipself_loss', 'RegionCLIPLoss', 'regionclip_loss',
    'concept_pseudo_labels', 'CLIP_LOGIT_SCALE', 'region_tokens',
]
