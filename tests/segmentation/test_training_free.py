"""Training-free open-vocabulary segmentation: exact on a constructed case, and the tiny config
runs through mmengine's test loop with mmseg's IoUMetric for a real (random) tower."""
import logging
import os.path as osp

import torch
import torch.nn.functional as F
from factories import class_embeddings_file
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(REPO, 'configs', 'catseg', 'trainingfree_clip-tiny_synthetic-64.py')


class ClassIdTower(nn.Module):
    """A constructed 'tower': each 8 x 8 patch of channel 0 holds a class id; the dense token is
    that class's text embedding (the case where dense map == class embeddings)."""

    def __init__(self, embeddings: torch.Tensor):
        super().__init__()
        self.register_buffer('embeddings', embeddings)

    def extract_dense(self, images):
        ids = F.avg_pool2d(images[:, :1], 8).round().long()[:, 0]     # B x h x w
        return self.embeddings[ids].permute(0, 3, 1, 2)                # B x D x h x w


def test_dense_map_equal_to_class_embeddings_gives_100_miou(tmp_path):
    num_classes, dim = 6, 8
    emb = torch.eye(dim)[:num_classes]  # orthonormal class embeddings
    names = [f'class {k}' for k in range(num_classes)]
    path = str(tmp_path / 'emb.pth')
    class_embeddings_file(path, names, emb, background=torch.eye(dim)[-1])
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(ConfigDict(
            type='TrainingFreeOVSegmentor',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0., 0, 0], std=[1., 1, 1]),
            backbone=dict(type='CLIPViT', clip_model=dict(
                embed_dim=dim, vision_cfg=dict(image_size=32, layers=1, width=32, head_width=16,
                                               patch_size=8),
                text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1)),
                out_indices=(), with_dense=True),
            decode_head=dict(type='DenseCosineOVHead', text_dim=dim, test_class_embeddings=path),
            test_cfg=dict(mode='whole')))
    model.backbone = ClassIdTower(emb)  # the constructed dense source
    model.eval()
    g = torch.Generator().manual_seed(0)
    grid = torch.randint(0, num_classes, (3, 6, 5), generator=g)           # token grid per image
    pixels = grid.repeat_interleave(8, 1).repeat_interleave(8, 2)         # 3 x 48 x 40 pixels
    # Labels at token resolution (ori_shape = grid): mmseg upsamples the logits to the input
    # and resizes them to ori_shape. At full resolution bilinear upsampling is not exact where
    # three classes meet at a token corner (a region can lose its corner pixels).
    labels = grid
    images = pixels[:, None].float().expand(-1, 3, -1, -1).contiguous()
    metric = IoUMetric()
    metric.dataset_meta = dict(classes=names)
    samples = []
    for k in range(3):
        meta = dict(img_shape=(48, 40), ori_shape=(6, 5), pad_shape=(48, 40),
                    padding_size=[0, 0, 0, 0])
        samples.append(SegDataSample(metainfo=meta, gt_sem_seg=PixelData(data=labels[k][None])))
    with torch.no_grad():
        outputs = model.test_step(dict(inputs=list(images), data_samples=samples))
    metric.process({}, [o.to_dict() for o in outputs])
    results = metric.compute_metrics(metric.results)
    assert results['mIoU'] == 100.0 and results['aAcc'] == 100.0
    # and the head really decides: shuffled embeddings in the file order break it
    model.decode_head.class_bank.test_embeddings = emb[[1, 0, 2, 3, 4, 5]]
    with torch.no_grad():
        outputs = model.test_step(dict(inputs=list(images), data_samples=samples))
    assert not torch.equal(outputs[0].pred_sem_seg.data[0], labels[0])


def test_tiny_training_free_config_runs_the_mmseg_test_loop(synthetic_root, tiny_assets, tmp_path):
    cfg = Config.fromfile(TINY)
    cfg.work_dir = str(tmp_path)
    cfg.model.backbone.pretrained = tiny_assets['weights']
    cfg.model.decode_head.test_class_embeddings = tiny_assets['embeddings']
    cfg.test_dataloader.dataset.data_root = synthetic_root
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'} and 0.0 <= metrics['mIoU'] <= 100.0
    assert all(v == v for v in metrics.values())  # no NaN: every image was predicted
    assert len(runner.test_evaluator.metrics[0].dataset_meta['classes']) == 24
    assert runner.model.decode_head.num_classes == 24
    assert not any(p.requires_grad for p in runner.model.parameters())


def test_an_empty_checkpoint_loads_in_one_line(tiny_assets, tmp_path):
    """The documented empty checkpoint leaves the CLIP file's weights and logs one line; a
    checkpoint missing only some weights is still reported key by key."""
    from mmengine.logging import MMLogger
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(TINY)
    cfg.model.backbone.pretrained = tiny_assets['weights']
    cfg.model.decode_head.test_class_embeddings = tiny_assets['embeddings']
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logger = MMLogger.get_instance('test_empty_checkpoint', log_level='INFO')
    records = []
    handler = type('Recorder', (logging.Handler, ), {'emit': lambda self, r: records.append(
        r.getMessage())})()
    logger.addHandler(handler)
    try:
        empty = str(tmp_path / 'empty.pth')
        torch.save({'state_dict': {}}, empty)
        load_checkpoint(model, empty, logger=logger)
        assert not [m for m in records if 'missing keys' in m]
        assert [m for m in records if 'holds none of the training-free' in m]
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        records.clear()
        partial = str(tmp_path / 'partial.pth')
        first = next(iter(before))
        torch.save({'state_dict': {first: before[first]}}, partial)
        load_checkpoint(model, partial, logger=logger)
        assert [m for m in records if 'missing keys' in m]
    finally:
        logger.removeHandler(handler)
