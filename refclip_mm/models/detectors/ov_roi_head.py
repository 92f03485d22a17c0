"""OVRoIHead: mmdet's StandardRoIHead plus CLIP region scores at test time."""
from typing import Callable, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.structures import SampleList
from mmdet.utils import InstanceList

from ...registry import MODELS
from ...utils.regions import as_nchw

RegionFn = Callable[[torch.Tensor], torch.Tensor]


@MODELS.register_module()
class OVRoIHead(StandardRoIHead):
    """StandardRoIHead whose box head also sees CLIP region features at test time.

    The detector passes ``clip_regions`` to :meth:`predict`: a function
    mapping RoIs ``K x 5`` (batch index, x1, y1, x2, y2 in input pixels) to
    region features ``K x D`` (RoIAlign 1x1 of the dense CLIP map). The box
    head (:class:`OVBBoxHead`) fuses the resulting CLIP scores with its own.
    Training is mmdet's, unchanged.

    The maps reach mmcv's RoIAlign (through the box and mask RoI extractors) as contiguous
    ``NCHW`` tensors (:func:`~refclip_mm.utils.regions.as_nchw`), whatever layout the
    backbone or neck returned: mmcv reads a channels-last map as ``NCHW`` without an error.
    """

    _clip_regions: Optional[RegionFn] = None

    def predict(self, x: Tuple[torch.Tensor], rpn_results_list: InstanceList,
                batch_data_samples: SampleList, rescale: bool = False,
                clip_regions: Optional[RegionFn] = None) -> InstanceList:
        """mmdet's predict; ``clip_regions`` is used by the box forward of this call."""
        self._clip_regions = clip_regions
        try:
            return super().predict(x, rpn_results_list, batch_data_samples, rescale=rescale)
        finally:
            self._clip_regions = None

    def _bbox_forward(self, x: Tuple[torch.Tensor], rois: torch.Tensor) -> dict:
        """mmdet's box forward; in eval mode with CLIP regions, scores are fused."""
        x = tuple(as_nchw(level) for level in x)  # what mmcv's RoIAlign reads
        if self.training or self._clip_regions is None:
            return super()._bbox_forward(x, rois)
        bbox_feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        cls_score, bbox_pred = self.bbox_head(bbox_feats, self._clip_regions(rois))
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats)

    def _mask_forward(self, x: Tuple[torch.Tensor], rois: Optional[torch.Tensor] = None,
                      pos_inds: Optional[torch.Tensor] = None,
                      bbox_feats: Optional[torch.Tensor] = None) -> dict:
        """mmdet's mask forward on contiguous ``NCHW`` maps."""
        x = tuple(as_nchw(level) for level in x)  # what mmcv's RoIAlign reads
        return super()._mask_forward(x, rois, pos_inds, bbox_feats)
