"""The metric inside a real mmseg test loop (Runner.test) on generated scenes."""
from mmengine.config import Config
from mmengine.runner import Runner

from refclip_mm.clip import tiny_arch


def test_runner_test_loop_with_dense_feature_segmentor(synthetic_root, tmp_path):
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(48, 48), keep_ratio=False),   # tower input: 6 x 6 tokens
        dict(type='LoadAnnotations'),                            # labels stay at 64 x 64
        dict(type='PackSegInputs'),
    ]
    cfg = Config(dict(
        default_scope='mmseg',
        custom_imports=dict(imports=['refclip_mm'], allow_failed_imports=False),
        work_dir=str(tmp_path),
        model=dict(
            type='DenseFeatureSegmentor',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.8, 116.7, 104.1],
                                   std=[68.5, 66.6, 70.3], bgr_to_rgb=True, size_divisor=8),
            tower=dict(type='CLIPViT', clip_model=tiny_arch('openai'), out_indices=(),
                       with_dense=True)),
        test_dataloader=dict(
            batch_size=4, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='SyntheticSceneSegDataset', data_root=synthetic_root,
                         data_prefix=dict(img_path='images/train', seg_map_path='semantic/train'),
                         pipeline=pipeline)),
        test_evaluator=dict(type='UnsupervisedSegMetric', seed=0),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        log_level='WARNING'))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert set(metrics) == {'unsup/mIoU', 'unsup/aAcc', 'unsup/mAcc'}
    assert all(0 <= v <= 100 for v in metrics.values())
    metric = runner.test_evaluator.metrics[0]
    result = metric.last_result
    assert result.num_images == 12
    assert result.num_tokens == 12 * 6 * 6
    assert result.confusion.shape == (24, 24)          # 24 synthetic classes from the dataset meta
    assert result.confusion.sum() == 12 * 64 * 64      # every label pixel counted at full resolution
