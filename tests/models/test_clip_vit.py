"""CLIPViT backbone: built through mmdet's and mmseg's registries, outputs, freezing, loading."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope

import refclip_mm  # noqa: F401  (registers CLIPViT in mmdet/mmseg)
from refclip_mm.clip import tiny_arch
from refclip_mm.models.backbones import CLIPViT


def _cfg(kind='openai', **kwargs):
    cfg = dict(type='CLIPViT', clip_model=tiny_arch(kind), out_indices=(0, 1, 2))
    cfg.update(kwargs)
    return cfg


def _build(registry_scope, cfg):
    if registry_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope(registry_scope):
        return MODELS.build(copy.deepcopy(cfg))


def test_mmdet_config_with_pyramid_and_dense(weights, kind):
    path, ref = weights(kind)
    backbone = _build('mmdet', _cfg(kind, pretrained=path, out_indices=(0, 1, 1, 2),
                                    pyramid_scales=(4, 2, 1, 0.5), with_dense=True, frozen_stages=3))
    assert isinstance(backbone, CLIPViT)
    backbone.init_weights()  # must not re-initialise the loaded CLIP weights
    backbone.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs = backbone(x)
        assert [tuple(o.shape) for o in outs] == [(2, 64, 32, 32), (2, 64, 16, 16), (2, 64, 8, 8),
                                                  (2, 64, 4, 4), (2, 32, 8, 8)]
        assert backbone.out_channels == [64, 64, 64, 64, 32]
        assert torch.allclose(backbone.tower.encode_image(x[:, :, :32, :32]),
                              ref.encode_image(x[:, :, :32, :32]), atol=1e-5)
    assert backbone.tower_frozen
    assert all(p.requires_grad for p in backbone.pyramid.parameters())


def test_mmseg_config_and_scope_qualified_name(weights):
    path, _ = weights('openai')
    seg = _build('mmseg', _cfg(pretrained=path, out_indices=(1, 2), with_dense=True, dense_mode='kk'))
    assert isinstance(seg, CLIPViT)
    from mmdet.registry import MODELS as DET_MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        qualified = DET_MODELS.build(dict(_cfg(pretrained=path, out_indices=(1, 2), with_dense=True,
                                               dense_mode='kk'), type='refclip_mm.CLIPViT'))
    x = torch.randn(1, 3, 48, 32)
    with torch.no_grad():
        a, b = seg(x), qualified(x)
    assert len(a) == 3 and a[-1].shape == (1, 32, 6, 4)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_init_cfg_pretrained_with_prefix(weights, tmp_path):
    """A detector checkpoint (backbone.tower.visual.*) loads through init_cfg with a prefix."""
    path, ref = weights('eva')
    donor = CLIPViT(clip_model=tiny_arch('eva'), pretrained=path, out_indices=(2, ))
    ckpt = tmp_path / 'detector.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in donor.state_dict().items()},
                'meta': {}}, ckpt)
    init_cfg = dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')
    backbone = _build('mmdet', _cfg('eva', init_cfg=init_cfg))
    backbone.init_weights()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(backbone.tower.encode_image(x), ref.encode_image(x), atol=1e-5)
    with pytest.raises(ValueError, match='not both'):
        CLIPViT(clip_model=tiny_arch('eva'), pretrained=path,
                init_cfg=dict(type='Pretrained', checkpoint=path))


def test_frozen_stages_and_trainable_blocks():
    backbone = CLIPViT(clip_model=tiny_arch('openai'), out_indices=(2, ), frozen_stages=2)
    tower = backbone.tower
    assert not tower.visual.conv1.weight.requires_grad
    assert not tower.visual.positional_embedding.requires_grad
    assert not any(p.requires_grad for p in tower.blocks[1].parameters())
    assert all(p.requires_grad for p in tower.blocks[2].parameters())
    assert tower.visual.proj.requires_grad
    backbone.train()
    assert not tower.blocks[0].training and tower.blocks[2].training
    out = backbone(torch.randn(1, 3, 32, 32))[0]
    out.mean().backward()
    assert tower.blocks[2].mlp.c_fc.weight.grad is not None
    assert tower.blocks[1].mlp.c_fc.weight.grad is None

    partial = CLIPViT(clip_model=tiny_arch('eva'), out_indices=(2, ), trainable_blocks=(0, 1, 2))
    t = partial.tower
    assert all(p.requires_grad for b in t.blocks for p in b.parameters())
    assert not t.trunk.patch_embed.proj.weight.requires_grad and not t.trunk.pos_embed.requires_grad
    assert not t.trunk.head.weight.requires_grad
    with pytest.raises(ValueError, match='either frozen_stages or trainable_blocks'):
        CLIPViT(clip_model=tiny_arch('eva'), frozen_stages=1, trainable_blocks=(2, ), out_indices=(2, ))
    with pytest.raises(ValueError, match=r'outside -1..3'):
        CLIPViT(clip_model=tiny_arch('eva'), frozen_stages=4, out_indices=(2, ))


def test_grad_checkpointing_and_windows(weights):
    path, _ = weights('openai')
    plain = CLIPViT(clip_model=tiny_arch('openai'), pretrained=path, out_indices=(2, ), with_dense=True)
    ckpt = CLIPViT(clip_model=tiny_arch('openai'), pretrained=path, out_indices=(2, ), with_dense=True,
                   grad_checkpointing=True, window_size=2, global_blocks=(2, ))
    assert ckpt.tower.grad_checkpointing and ckpt.tower.window_size == 2
    x = torch.randn(1, 3, 40, 40)
    out = ckpt(x)
    (out[0].mean() + out[1].mean()).backward()
    assert ckpt.tower.blocks[0].attn.in_proj_weight.grad is not None
    with torch.no_grad():
        assert not torch.allclose(plain(x)[0], ckpt(x)[0], atol=1e-4)


def test_bad_backbone_configs():
    with pytest.raises(ValueError, match=r'out_indices \[1, 3\] contains 3.*has 3 blocks'):
        CLIPViT(clip_model=tiny_arch('openai'), out_indices=(1, 3))
    with pytest.raises(ValueError, match='one scale per'):
        CLIPViT(clip_model=tiny_arch('openai'), out_indices=(1, 2), pyramid_scales=(4, 2, 1))
    with pytest.raises(ValueError, match=r'contain \[3\]'):
        CLIPViT(clip_model=tiny_arch('openai'), out_indices=(1, ), pyramid_scales=(3, ))
    with pytest.raises(ValueError, match='unknown dense_mode'):
        CLIPViT(clip_model=tiny_arch('openai'), dense_mode='vv', out_indices=(1, ))
    with pytest.raises(ValueError, match="unknown CLIP model name 'ViT-B-61'"):
        CLIPViT(clip_model='ViT-B-61')
    padded = CLIPViT(clip_model=tiny_arch('openai'), out_indices=(1, ), pad_to_patch=True)
    assert padded(torch.randn(1, 3, 30, 33))[0].shape == (1, 64, 4, 5)
    with pytest.raises(ValueError, match='pad_to_patch=True'):
        CLIPViT(clip_model=tiny_arch('openai'), out_indices=(1, ))(torch.randn(1, 3, 30, 33))


def _config_file(tmp_path, text):
    from mmengine.config import Config
    path = tmp_path / 'cfg.py'
    path.write_text(text)
    return Config.fromfile(str(path))


def test_in_an_mmdet_detector_config(weights, tmp_path):
    """A Faster R-CNN config (custom_imports + plain type name) uses CLIPViT with FPN."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    path, _ = weights('openai')
    cfg = _config_file(tmp_path, f'''
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['refclip_mm'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='CLIPViT', clip_model={tiny_arch('openai')!r},
                  pretrained={path!r}, out_indices=(0, 1, 1, 2), pyramid_scales=(4, 2, 1, 0.5),
                  frozen_stages=3),
    neck=dict(in_channels=[64, 64, 64, 64], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=32), bbox_head=dict(in_channels=32)))
''')
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = MODELS.build(cfg.model)
    assert isinstance(detector.backbone, CLIPViT)
    with torch.no_grad():
        feats = detector.extract_feat(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]


def test_in_an_mmseg_segmentor_config(weights, tmp_path):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    path, _ = weights('eva')
    cfg = _config_file(tmp_path, f'''
custom_imports = dict(imports=['refclip_mm'], allow_failed_imports=False)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', size=(32, 32)),
    backbone=dict(type='CLIPViT', clip_model={tiny_arch('eva')!r}, pretrained={path!r},
                  out_indices=(2, ), with_dense=True, frozen_stages=3),
    decode_head=dict(type='FCNHead', in_channels=32, in_index=1, channels=16, num_convs=1,
                     num_classes=5, norm_cfg=None, align_corners=False),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
''')
    with DefaultScope.overwrite_default_scope('mmseg'):
        segmentor = MODELS.build(cfg.model)
    assert isinstance(segmentor.backbone, CLIPViT)
    segmentor.eval()
    with torch.no_grad():
        logits = segmentor._forward(torch.randn(1, 3, 32, 32))
    assert logits.shape == (1, 5, 4, 4)


def test_rois_read_the_pyramid_the_neck_sees(weights):
    """mmcv's RoIAlign reads raw NCHW memory: the tower's token maps are transposed views, and
    convolutions keep their channels-last layout, so the backbone must hand over NCHW maps or
    the RoI head of a detector pools scrambled features (its RPN, all convolutions, still learns).
    """
    from mmdet.registry import MODELS
    path, _ = weights('openai')
    backbone = _build('mmdet', _cfg(pretrained=path, out_indices=(0, 1, 2),
                                    pyramid_scales=(2, 1, 0.5), with_dense=True))
    with DefaultScope.overwrite_default_scope('mmdet'):
        neck = MODELS.build(dict(type='FPN', in_channels=[64, 64, 64], out_channels=16, num_outs=3))
        extractor = MODELS.build(dict(
            type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign', output_size=3,
                                                      sampling_ratio=0),
            out_channels=16, featmap_strides=[4, 8, 16]))
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    rois = torch.tensor([[0, 4., 8., 40., 30.], [1, 20., 2., 60., 50.], [1, 0., 0., 16., 16.]])
    with torch.no_grad():
        outs = backbone(x)
        assert all(o.is_contiguous() for o in outs)
        maps = neck(outs[:-1])
        pooled = extractor(maps, rois)
        reference = extractor([m.contiguous() for m in maps], rois)
    assert torch.allclose(pooled, reference)
