"""DenseCosineOVHead: training-free open-vocabulary segmentation (no parameters)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .ov_head_base import OVDecodeHeadBase


@MODELS.register_module()
class DenseCosineOVHead(OVDecodeHeadBase):
    """Logits = ``logit_scale`` x cosine(dense token, class text embedding).

    Input: the backbone tuple; its last map is the dense CLIP map ``B x D x h x w``.
    Output: ``B x T x h x w`` (mmseg resizes it to the image; argmax is the
    prediction). Nothing is trained.

    Args:
        class_embeddings / test_class_embeddings: class-embedding files (see
            :class:`~refclip_mm.models.segmentors.class_embeddings.ClassEmbeddingBank`);
            an evaluation-only config needs only ``test_class_embeddings``.
        text_dim: expected ``D`` (``None``: checked against the dense map at run time).
        logit_scale: multiplies the cosines (CLIP's 100 by default; argmax unaffected).
    """

    def __init__(self, class_embeddings: Optional[str] = None,
                 test_class_embeddings: Optional[str] = None, text_dim: Optional[int] = None,
                 logit_scale: float = 100.0, **kwargs):
        bank = self._init_bank(class_embeddings, test_class_embeddings, text_dim)
        kwargs.setdefault('in_channels', text_dim or 1)
        kwargs.setdefault('channels', 1)
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs['num_classes'] = bank.num_classes(class_embeddings is not None)
        super().__init__(**kwargs)
        self._attach_bank(bank)
        self.conv_seg = None
        self.logit_scale = logit_scale

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        dense = inputs[-1]
        self.class_bank.check_dense_dim(dense, self.training)
        text = self.class_bank.embeddings(self.training).to(dense.dtype)
        cos = torch.einsum('bdhw,td->bthw', F.normalize(dense, dim=1), F.normalize(text, dim=-1))
        return cos * self.logit_scale

    def loss(self, *args, **kwargs):
        raise NotImplementedError('DenseCosineOVHead is training-free: use it for testing only')
