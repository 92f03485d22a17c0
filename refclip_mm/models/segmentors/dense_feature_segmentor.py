"""DenseFeatureSegmentor: run any dense tower inside an mmseg test loop."""
from typing import Any, Dict, List, Optional, Union

import torch
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample
from torch import nn

from ...registry import MODELS
from ..dense_source import dense_fn, resolve_attr


@MODELS.register_module()
class DenseFeatureSegmentor(BaseSegmentor):
    """An evaluation-only mmseg segmentor whose prediction is the dense feature map.

    ``predict`` stores the dense map of every image, ``D x h x w`` with the
    tokens of the data preprocessor's padding removed (and a horizontal test
    flip undone), in ``data_sample.dense_feats``; no ``pred_sem_seg`` is made.
    Pair it with ``test_evaluator=dict(type='UnsupervisedSegMetric')``::

        model = dict(
            type='DenseFeatureSegmentor',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=..., std=...,
                                   bgr_to_rgb=True, size_divisor=16),
            tower=dict(type='CLIPViT', clip_model='ViT-B-16', pretrained='clip.pth',
                       out_indices=(), with_dense=True))

    Args:
        tower: config of the module (built with the MODELS registry of the
            current scope) or the module itself.
        dense_attr: dotted path of the sub-module that yields the dense map
            (``''`` = the tower); found as described in
            :mod:`refclip_mm.models.dense_source`.
        mode: last-block mode for CLIP towers (default: the tower's own).
        data_preprocessor / init_cfg: as for any mmseg segmentor.
    """

    def __init__(self, tower: Union[Dict[str, Any], nn.Module], dense_attr: str = '',
                 mode: Optional[str] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tower = tower if isinstance(tower, nn.Module) else MODELS.build(tower)
        self.dense_attr = dense_attr
        self._dense = dense_fn(resolve_attr(self.tower, dense_attr), mode)

    def extract_dense(self, inputs: torch.Tensor) -> torch.Tensor:
        """Model-ready images ``B x 3 x H x W`` -> dense map ``B x D x h x w``."""
        return self._dense(inputs)

    def extract_feat(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        return [self.extract_dense(inputs)]

    def encode_decode(self, inputs: torch.Tensor, batch_data_samples: Any) -> torch.Tensor:
        return self.extract_dense(inputs)

    def _forward(self, inputs: torch.Tensor, data_samples: Any = None) -> torch.Tensor:
        return self.extract_dense(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: Any) -> dict:
        raise NotImplementedError('DenseFeatureSegmentor only evaluates (tools/test.py); it has '
                                  'no training loss')

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[SegDataSample]] = None
                ) -> List[SegDataSample]:
        """Put each image's ``D x h x w`` dense map into ``data_sample.dense_feats``."""
        dense = self.extract_dense(inputs)
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(inputs.shape[0])]
        for index, sample in enumerate(data_samples):
            sample.dense_feats = crop_padding(dense[index], inputs.shape[-2:], sample.metainfo)
        return data_samples


def crop_padding(dense: torch.Tensor, input_size, metainfo: Dict[str, Any]) -> torch.Tensor:
    """Drop the tokens that lie wholly in the preprocessor's padding; undo a horizontal flip.

    Args:
        dense: ``D x h x w`` map of a padded ``H x W`` input.
        input_size: ``(H, W)`` of the padded input.
        metainfo: the sample's meta (``padding_size`` = left, right, top, bottom
            in pixels, as set by ``SegDataPreProcessor``; ``flip``, ``flip_direction``).
    """
    padding = metainfo.get('img_padding_size', metainfo.get('padding_size', [0, 0, 0, 0]))
    left, right, top, bottom = padding
    stride_y, stride_x = input_size[0] / dense.shape[1], input_size[1] / dense.shape[2]
    h, w = dense.shape[1:]
    dense = dense[:, int(top // stride_y):h - int(bottom // stride_y),
                  int(left // stride_x):w - int(right // stride_x)]
    if metainfo.get('flip', False):
        direction = metainfo.get('flip_direction', 'horizontal')
        if direction == 'horizontal':
            dense = dense.flip(-1)
        elif direction == 'vertical':
            dense = dense.flip(-2)
    return dense
