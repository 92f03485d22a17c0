"""OVBBoxHead, score fusion and the base/novel split: numbers and errors."""
import pytest
import torch
import torch.nn.functional as F
from factories import class_embeddings_file
from mmdet.structures import DetDataSample

from refclip_mm.datasets.ov_detection import split_classes
from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES, THING_CLASSES
from refclip_mm.models.detectors import OVBBoxHead, OVRoIHead, clip_region_probs, fuse_scores


def make_head(embeddings, **kwargs):
    args = dict(class_embeddings=embeddings, class_names=list(THING_CLASSES),
                novel_classes=list(NOVEL_THING_CLASSES), in_channels=8, roi_feat_size=7,
                num_shared_convs=0, num_shared_fcs=1, num_cls_fcs=0, num_reg_fcs=0,
                fc_out_channels=16)
    args.update(kwargs)
    return OVBBoxHead(**args)


def test_fuse_scores_uses_alpha_for_base_and_beta_for_novel():
    det = torch.tensor([[0.5, 0.2, 0.3]])
    clip = torch.tensor([[0.1, 0.6, 0.3]])
    novel = torch.tensor([False, True, False])  # class 1 novel, last column background
    fused = fuse_scores(det, clip, novel, alpha=0.1, beta=0.8)
    expected = torch.tensor([[0.5 ** 0.9 * 0.1 ** 0.1, 0.2 ** 0.2 * 0.6 ** 0.8,
                              0.3 ** 0.9 * 0.3 ** 0.1]])
    torch.testing.assert_close(fused, expected)
    with pytest.raises(ValueError, match='do not fit'):
        fuse_scores(det, clip[:, :2], novel, 0.1, 0.8)


def test_head_eval_scores_are_fused_probabilities(fvit_assets):
    torch.manual_seed(0)
    head = make_head(fvit_assets['embeddings'], alpha=0.1, beta=0.8, clip_temperature=75.0).eval()
    rois = torch.randn(5, 8, 7, 7)
    region = torch.randn(5, 32)
    with torch.no_grad():
        probs, deltas = head(rois, region)
        plain, _ = head(rois)
        embed, _ = super(OVBBoxHead, head).forward(rois)
    emb = head.all_embeddings
    det = (head.logit_scale * F.normalize(embed, dim=-1) @ emb.t()).softmax(-1)
    torch.testing.assert_close(plain, det)
    clip = (75.0 * F.normalize(region, dim=-1) @ emb.t()).softmax(-1)
    novel = [THING_CLASSES.index(n) for n in NOVEL_THING_CLASSES]
    base = [i for i in range(len(THING_CLASSES)) if i not in novel]
    torch.testing.assert_close(probs[:, novel], det[:, novel] ** 0.2 * clip[:, novel] ** 0.8)
    torch.testing.assert_close(probs[:, base], det[:, base] ** 0.9 * clip[:, base] ** 0.1)
    torch.testing.assert_close(clip_region_probs(region, emb, 75.0), clip)
    assert deltas.shape == (5, 4)  # class-agnostic regression


def test_training_masks_novel_logits_and_rejects_novel_targets(fvit_assets):
    torch.manual_seed(0)
    head = make_head(fvit_assets['embeddings']).train()
    logits, deltas = head(torch.randn(4, 8, 7, 7))
    assert logits.shape == (4, len(THING_CLASSES) + 1)
    novel = THING_CLASSES.index(NOVEL_THING_CLASSES[0])
    labels = torch.tensor([0, 1, len(THING_CLASSES), 2])
    ones = torch.ones(4)
    losses = head.loss(logits, deltas, torch.zeros(4, 5), labels, ones, torch.zeros(4, 4),
                       torch.ones(4, 4))
    masked = logits.detach().clone()
    masked[:, head.novel_mask] = float('-inf')
    torch.testing.assert_close(losses['loss_cls'], F.cross_entropy(masked, labels))
    losses['loss_cls'].backward()
    assert head.logit_scale.grad is not None
    with pytest.raises(ValueError, match='novel-class instances reached training'):
        head.loss(logits.detach(), deltas.detach(), torch.zeros(4, 5),
                  torch.tensor([novel, 0, 1, 2]), ones, torch.zeros(4, 4), torch.ones(4, 4))


def test_embedding_file_missing_classes_is_named(fvit_assets, tmp_path):
    path = str(tmp_path / 'three.pth')
    class_embeddings_file(path, THING_CLASSES[:3])
    with pytest.raises(KeyError, match='green circle'):
        make_head(path)


def test_split_errors_name_the_classes():
    classes = ['a', 'b', 'c']
    assert split_classes(classes, novel=['b']) == (['a', 'c'], ['b'])
    with pytest.raises(ValueError, match="overlap.*'b'"):
        split_classes(classes, base=['a', 'b'], novel=['b', 'c'])
    with pytest.raises(ValueError, match="neither base nor novel.*'c'"):
        split_classes(classes, base=['a'], novel=['b'])
    with pytest.raises(ValueError, match="does not have.*'z'"):
        split_classes(classes, novel=['z'])


def test_backbone_checkpoint_that_is_not_a_clip_tower_is_refused(fvit_assets, tmp_path):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from refclip_mm.utils.checkpoint import CheckpointError
    from .conftest import TINY_COCO_CFG
    register_all_modules(init_default_scope=False)
    bogus = str(tmp_path / 'detector.pth')
    torch.save({'backbone.conv1.weight': torch.zeros(64, 3, 7, 7)}, bogus)
    config = Config.fromfile(TINY_COCO_CFG)
    cfg = config.model
    cfg.roi_head.bbox_head.class_embeddings = fvit_assets['embeddings']
    cfg.backbone.pretrained = fvit_assets['clip']
    with DefaultScope.overwrite_default_scope(config.default_scope):  # as the config's Runner
        assert MODELS.build(cfg).backbone.tower is not None  # the converted tiny tower loads
        cfg.backbone.pretrained = bogus
        with pytest.raises(CheckpointError):
            MODELS.build(cfg)


def test_roi_head_pools_channels_last_maps_as_their_values_say(fvit_assets):
    """A backbone or neck may return channels-last maps (convolutions keep that layout); mmcv's
    RoIAlign reads memory as NCHW, so the RoI head hands its extractors contiguous maps."""
    from mmdet.utils import register_all_modules
    from mmengine.config import ConfigDict
    from mmengine.registry import DefaultScope
    from mmengine.structures import InstanceData
    register_all_modules(init_default_scope=False)
    args = dict(type='OVBBoxHead', class_embeddings=fvit_assets['embeddings'],
                class_names=list(THING_CLASSES), novel_classes=list(NOVEL_THING_CLASSES),
                in_channels=8, roi_feat_size=7, num_shared_convs=0, num_shared_fcs=1,
                num_cls_fcs=0, num_reg_fcs=0, fc_out_channels=16)
    extractor = dict(type='SingleRoIExtractor', out_channels=8, featmap_strides=[4, 8],
                     roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = OVRoIHead(bbox_roi_extractor=extractor, bbox_head=args,
                         mask_roi_extractor=dict(extractor, roi_layer=dict(
                             type='RoIAlign', output_size=14, sampling_ratio=0)),
                         mask_head=dict(type='FCNMaskHead', num_convs=1, in_channels=8,
                                        conv_out_channels=8, num_classes=1, class_agnostic=True),
                         test_cfg=ConfigDict(score_thr=0.0, max_per_img=10, mask_thr_binary=0.5,
                                             nms=dict(type='nms', iou_threshold=0.5)))
    maps = (torch.randn(2, 8, 16, 16), torch.randn(2, 8, 8, 8))
    channels_last = tuple(m.contiguous(memory_format=torch.channels_last) for m in maps)
    assert all(torch.equal(a, b) and not b.is_contiguous() for a, b in zip(maps, channels_last))
    rois = torch.tensor([[0, 4., 4., 40., 36.], [1, 10., 2., 60., 50.], [1, 0., 0., 64., 64.],
                         [0, 20., 30., 28., 40.]])
    # without the guard the numbers differ: mmdet's extractor alone reads them scrambled
    assert not torch.allclose(head.bbox_roi_extractor(channels_last, rois),
                              head.bbox_roi_extractor(maps, rois))
    regions = torch.randn(4, 32)
    for training in (True, False):  # mmdet's box forward, and the fused one of test time
        head.train(training)
        head._clip_regions = None if training else (lambda r: regions[:r.shape[0]])
        with torch.no_grad():
            expected, got = head._bbox_forward(maps, rois), head._bbox_forward(channels_last, rois)
        for key in ('bbox_feats', 'cls_score', 'bbox_pred'):
            assert torch.equal(got[key], expected[key]), (training, key)
    head._clip_regions = None
    with torch.no_grad():
        expected, got = head._mask_forward(maps, rois), head._mask_forward(channels_last, rois)
    assert torch.equal(got['mask_feats'], expected['mask_feats'])
    assert torch.equal(got['mask_preds'], expected['mask_preds'])
    # the whole test-time path, CLIP scores fused
    proposals = [InstanceData(bboxes=rois[rois[:, 0] == i, 1:], scores=torch.ones(2))
                 for i in range(2)]
    samples = [DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                           scale_factor=(1.0, 1.0))) for _ in range(2)]
    clip_regions = (lambda r: F.normalize(r[:, 1:].repeat(1, 8), dim=-1))  # K x 32
    with torch.no_grad():
        results = [head.predict(x, proposals, samples, clip_regions=clip_regions)
                   for x in (maps, channels_last)]
    for expected, got in zip(*results):
        assert len(expected) > 0
        for key in ('bboxes', 'scores', 'labels', 'masks'):
            assert torch.equal(got[key], expected[key]), key


def test_a_sigmoid_clips_embeddings_are_scored_with_its_scale_and_bias(fvit_assets):
    """Embeddings recording a logit bias (SigLIP) give sigmoid CLIP scores with the recorded
    scale and bias; clip_logit_bias=None keeps softmax scores; set_vocabulary follows the new
    embeddings."""
    from dataclasses import replace

    from refclip_mm.clip import load_class_embeddings
    torch.manual_seed(0)
    text = load_class_embeddings(fvit_assets['embeddings'])
    sigmoid_text = replace(text, logit_scale=10.0, logit_bias=-3.0)
    rois, region = torch.randn(5, 8, 7, 7), torch.randn(5, 32)
    head = make_head(sigmoid_text, alpha=0.0, beta=1.0).eval()  # fused = det on base, CLIP on novel
    assert (head.clip_scale, head.clip_bias) == (10.0, -3.0)
    with torch.no_grad():
        probs, _ = head(rois, region)
    emb = head.all_embeddings
    clip = torch.sigmoid(10.0 * F.normalize(region, dim=-1) @ emb.t() - 3.0)
    novel = [THING_CLASSES.index(n) for n in NOVEL_THING_CLASSES]
    torch.testing.assert_close(probs[:, novel], clip[:, novel])
    torch.testing.assert_close(clip_region_probs(region, emb, 10.0, -3.0), clip)
    softmax_head = make_head(sigmoid_text, clip_logit_bias=None, clip_temperature=75.0).eval()
    assert (softmax_head.clip_scale, softmax_head.clip_bias) == (75.0, None)
    head.set_vocabulary(text)  # a softmax CLIP's vocabulary: softmax scores again
    assert (head.clip_scale, head.clip_bias) == (75.0, None)
    with pytest.raises(ValueError, match="clip_logit_bias must be 'file'"):
        make_head(text, clip_logit_bias='auto')
