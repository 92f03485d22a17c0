"""OVBBoxHead, score fusion and the base/novel split: numbers and errors."""
import pytest
import torch
import torch.nn.functional as F
from factories import class_embeddings_file

from refclip_mm.datasets.ov_detection import split_classes
from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES, THING_CLASSES
from refclip_mm.models.detectors import OVBBoxHead, clip_region_probs, fuse_scores


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
