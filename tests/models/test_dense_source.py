"""Which dense map the tools take from which module."""
import pytest
import torch

from refclip_mm.clip import build_image_tower, tiny_arch
from refclip_mm.models.dense_source import find_dense_fn
from refclip_mm.registry import MODELS


def test_refiner_backbone_gives_the_refined_map():
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='RefinerBackbone', clip_model=tiny_arch('openai'),
                                 out_indices=(1, ), refiner=dict(depth=1, num_heads=2)))
    torch.nn.init.normal_(backbone.refiner.out.weight)      # make the Refiner non-identity
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        dense = find_dense_fn(backbone)(images)
        raw = backbone.tower.forward_dense(images).dense
        refined = backbone.refiner(raw)
        outs = backbone(images)
    assert all(o.is_contiguous() for o in outs)  # NCHW, as mmcv's RoIAlign reads it
    assert dense.shape == (2, 32, 4, 4)
    assert torch.allclose(dense, refined, atol=1e-5) and not torch.allclose(dense, raw, atol=1e-3)


def test_tower_mode_and_backbone_fallback():
    torch.manual_seed(0)
    tower = build_image_tower(tiny_arch('openai'))
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        value = find_dense_fn(tower)(images)
        kk = find_dense_fn(tower, mode='kk')(images)
        wrapped = find_dense_fn(torch.nn.ModuleDict(dict(backbone=tower)))(images)
    assert not torch.allclose(value, kk) and torch.equal(value, wrapped)
    with pytest.raises(ValueError, match='must be a 4-D B x D x h x w tensor'):
        bad = torch.nn.Module()
        bad.extract_dense = lambda x: x.flatten(1)
        find_dense_fn(bad)(images)
    with pytest.raises(AttributeError, match="no attribute 'student'"):
        find_dense_fn(tower, 'student')
