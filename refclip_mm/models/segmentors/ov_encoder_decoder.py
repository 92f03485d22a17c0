"""mmseg EncoderDecoder variants whose class count follows the decode head's class embeddings."""
import logging
from typing import List, Optional

import torch
from mmengine.logging import print_log
from mmseg.models.segmentors import EncoderDecoder

from ...registry import MODELS
from ..dense_source import find_dense_fn


@MODELS.register_module()
class OVEncoderDecoder(EncoderDecoder):
    """mmseg's ``EncoderDecoder`` for open-vocabulary heads.

    ``num_classes`` / ``out_channels`` are read from the decode head every time
    (they change with the train / test vocabulary), so mmseg's whole and
    sliding-window inference allocate the right number of class maps.
    Everything else (losses, inference modes, data preprocessing) is mmseg's.
    """

    @property
    def num_classes(self) -> int:
        return self.decode_head.num_classes

    @num_classes.setter
    def num_classes(self, value: int) -> None:
        pass

    @property
    def out_channels(self) -> int:
        return self.decode_head.out_channels

    @out_channels.setter
    def out_channels(self, value: int) -> None:
        pass


@MODELS.register_module()
class TrainingFreeOVSegmentor(OVEncoderDecoder):
    """Training-free open-vocabulary segmentation of any CLIP tower.

    The backbone's dense map (found by :func:`refclip_mm.models.dense_source.find_dense_fn`:
    ``extract_dense``, a ``DenseCLIPTower``, a ``CLIPViT`` / ``RefinerBackbone``
    with ``with_dense``, ...) goes to a parameter-free :class:`DenseCosineOVHead`;
    the prediction is the argmax over classes of the dense-map / text cosine.

    Args:
        backbone: config of the tower (e.g. ``CLIPViT`` with ``with_dense=True``,
            ``pretrained=`` a CLIP file or a stage-2 checkpoint; ``RefinerBackbone``).
        decode_head: default ``DenseCosineOVHead``; give at least its
            ``test_class_embeddings``.
        dense_attr: dotted path of the backbone's sub-module that yields the map.
        dense_mode: last-block mode for CLIP towers (default: the tower's own).
        other args: as mmseg's ``EncoderDecoder``.

    The test tools want a checkpoint; an empty one (``{'state_dict': {}}``) is the documented
    choice, and loading it reports one line instead of listing every weight as missing (a
    checkpoint holding some of the model's weights but not all is reported as usual).
    """

    def __init__(self, backbone: dict, decode_head: dict, dense_attr: Optional[str] = None,
                 dense_mode: Optional[str] = None, **kwargs):
        decode_head = dict(decode_head)
        decode_head.setdefault('type', 'DenseCosineOVHead')
        super().__init__(backbone=backbone, decode_head=decode_head, **kwargs)
        self.dense_attr = dense_attr
        self.dense_mode = dense_mode
        self.register_load_state_dict_post_hook(_accept_an_empty_checkpoint)

    def extract_feat(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Images ``B x 3 x H x W`` -> ``[dense map B x D x h x w]``."""
        if self.dense_attr is not None:
            fn = find_dense_fn(self.backbone, self.dense_attr, self.dense_mode)
        else:
            fn = find_dense_fn(self.backbone, mode=self.dense_mode)
        return [fn(inputs)]

    def loss(self, inputs, data_samples):
        raise NotImplementedError('TrainingFreeOVSegmentor has nothing to train: run tools/test.py')


def _accept_an_empty_checkpoint(model: TrainingFreeOVSegmentor, incompatible_keys) -> None:
    """Load post-hook: a checkpoint with none of the model's weights (and nothing else) leaves
    the weights read from ``model.backbone.pretrained``; clear the missing keys, say so once."""
    def counted(keys):
        return [k for k in keys if not k.endswith('num_batches_tracked')]

    expected = counted(model.state_dict())
    missing = counted(incompatible_keys.missing_keys)
    if expected and len(missing) == len(expected) and not incompatible_keys.unexpected_keys:
        incompatible_keys.missing_keys.clear()
        print_log('the checkpoint holds none of the training-free segmentor\'s weights (it has '
                  'nothing trained): every weight is the one read from model.backbone.pretrained',
                  logger='current', level=logging.INFO)
