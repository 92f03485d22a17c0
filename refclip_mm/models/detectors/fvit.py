"""FViT: a two-stage open-vocabulary detector on a frozen CLIP ViT
(docs/method.md section 6.1)."""
import functools
from typing import Optional, Tuple

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.structures import SampleList

from ...registry import MODELS
from .ov_roi_head import OVRoIHead


@MODELS.register_module()
class FViT(TwoStageDetector):
    """mmdet's two-stage detector (Faster / Mask R-CNN) on a CLIPViT backbone.

    The backbone returns the pyramid maps followed by the dense CLIP map
    ``B x D x h x w`` (``CLIPViT(with_dense=True)``). Only the pyramid goes to
    the neck, RPN and RoI head; at test time the dense map gives the CLIP
    region scores (RoIAlign 1x1, :meth:`DenseCLIPTower.region_features`) that
    :class:`OVRoIHead` / :class:`OVBBoxHead` fuse with the detector's scores.

    Args (besides TwoStageDetector's):
        use_clip_scores: fuse CLIP region scores at test time (needs a
            ``with_dense`` backbone and an :class:`OVRoIHead`).
    """

    def __init__(self, *args, use_clip_scores: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.use_clip_scores = use_clip_scores
        self.with_dense = bool(getattr(self.backbone, 'with_dense', False))
        if use_clip_scores:
            self._check_clip_parts()

    def _check_clip_parts(self) -> None:
        if not self.with_dense or not hasattr(self.backbone, 'tower'):
            raise ValueError('FViT with use_clip_scores=True needs a CLIPViT backbone with '
                             'with_dense=True (its last output is the dense CLIP map)')
        if not isinstance(self.roi_head, OVRoIHead):
            raise ValueError(f'FViT with use_clip_scores=True needs roi_head type OVRoIHead, '
                             f'got {type(self.roi_head).__name__}')
        head_dim = getattr(self.roi_head.bbox_head, 'embed_dim', None)
        dense_dim = self.backbone.out_channels[-1]
        if head_dim is not None and head_dim != dense_dim:
            raise ValueError(f'the class-embedding file has D={head_dim} but the backbone\'s dense '
                             f'CLIP map has {dense_dim} channels: build the embeddings with the '
                             'same CLIP model as the backbone')

    def extract_feat_and_dense(self, batch_inputs: torch.Tensor
                               ) -> Tuple[Tuple[torch.Tensor, ...], Optional[torch.Tensor]]:
        """Images ``B x 3 x H x W`` -> (neck maps, dense CLIP map ``B x D x h x w`` or None)."""
        outs = tuple(self.backbone(batch_inputs))
        dense = None
        if self.with_dense:
            outs, dense = outs[:-1], outs[-1]
        x = self.neck(outs) if self.with_neck else outs
        return tuple(x), dense

    def extract_feat(self, batch_inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Neck maps only (what RPN and RoI head train on)."""
        return self.extract_feat_and_dense(batch_inputs)[0]

    def predict(self, batch_inputs: torch.Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """TwoStageDetector.predict, handing the RoI head the CLIP region features."""
        x, dense = self.extract_feat_and_dense(batch_inputs)
        if batch_data_samples[0].get('proposals', None) is None:
            rpn_results_list = self.rpn_head.predict(x, batch_data_samples, rescale=False)
        else:
            rpn_results_list = [sample.proposals for sample in batch_data_samples]
        kwargs = {}
        if self.use_clip_scores and isinstance(self.roi_head, OVRoIHead):
            kwargs['clip_regions'] = functools.partial(self.backbone.tower.region_features, dense)
        results_list = self.roi_head.predict(x, rpn_results_list, batch_data_samples,
                                             rescale=rescale, **kwargs)
        return self.add_pred_to_datasample(batch_data_samples, results_list)
