"""The CLIP image normalisation: one Python constant, the configs' fragment equal to it."""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config

from refclip_mm.datasets.transforms import CLIP_MEAN, CLIP_STD, clip_image_preprocessor
from refclip_mm.evaluation.towers import normalize_images

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_config_fragment_equals_the_python_constant():
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'clip_normalization.py'))
    assert tuple(cfg.clip_mean) == CLIP_MEAN and tuple(cfg.clip_std) == CLIP_STD
    pre = clip_image_preprocessor()
    assert pre['mean'] == CLIP_MEAN and pre['std'] == CLIP_STD


def test_normalize_images_uses_the_constant():
    # an image of the rounded mean colour -> ~0; mean + std -> ~1 (0-255 units, RGB)
    mean = np.round(np.array(CLIP_MEAN))
    image = np.stack([np.broadcast_to(mean, (2, 3, 3)),
                      np.broadcast_to(np.round(np.array(CLIP_MEAN) + CLIP_STD), (2, 3, 3))])
    x = normalize_images(image.astype(np.uint8))
    assert x.shape == (2, 3, 2, 3)
    expect0 = torch.tensor((mean - CLIP_MEAN) / CLIP_STD, dtype=torch.float32)
    assert torch.allclose(x[0, :, 0, 0], expect0, atol=1e-5)
    expect1 = torch.tensor((np.round(np.array(CLIP_MEAN) + CLIP_STD) - CLIP_MEAN) / CLIP_STD,
                           dtype=torch.float32)
    assert torch.allclose(x[1, :, 1, 2], expect1, atol=1e-5)
    assert (expect1 - 1).abs().max() < 0.01
