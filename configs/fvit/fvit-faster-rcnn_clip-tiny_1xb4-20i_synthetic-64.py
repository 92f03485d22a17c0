# Tiny F-ViT (Faster R-CNN) on 64 px synthetic scenes (15 base / 5 novel shape classes) with a
# tiny CLIP (3 blocks, width 64, patch 8): a pipeline check for tests and the demo, on CPU.
# Data: python tools/make_synthetic_data.py data/demo
# Embeddings: python tools/build_text_embeddings.py --ann data/demo/annotations/instances_val.json
#     --arch-json <tiny arch json> [--pretrained data/demo/tiny_clip.pth] --out <class_embeddings>
# Other paths: --cfg-options model.roi_head.bbox_head.class_embeddings=... \
#     train_dataloader.dataset.data_root=... val_dataloader.dataset.data_root=... \
#     test_dataloader.dataset.data_root=... val_evaluator.ann_file=... test_evaluator.ann_file=...
_base_ = [
    '../_base_/fvit/fvit_faster-rcnn.py', '../_base_/models/clip_tiny.py',
    '../_base_/fvit/default_runtime_det.py'
]
# ---- the three things to edit ------------------------------------------------------------
clip_weights = None  # tiny CLIP weight file (refclip_mm.clip.save_tiny_clip); None: random
class_embeddings = 'data/demo/class_embeddings_tiny.pth'
data_root = 'data/demo/'
# ------------------------------------------------------------------------------------------
classes = (
    'red square', 'green square', 'blue square', 'yellow square', 'red circle', 'green circle',
    'blue circle', 'yellow circle', 'red triangle', 'green triangle', 'blue triangle',
    'yellow triangle', 'red ring', 'green ring', 'blue ring', 'yellow ring', 'red cross',
    'green cross', 'blue cross', 'yellow cross')
novel_classes = ('yellow square', 'yellow circle', 'yellow triangle', 'yellow ring',
                 'yellow cross')
base_classes = tuple(c for c in classes if c not in novel_classes)
metainfo = dict(classes=classes, base_classes=base_classes, novel_classes=novel_classes)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(pad_size_divisor=16),
    backbone=dict(
        clip_model=dict(_delete_=True, **_base_.tiny_clip), pretrained=clip_weights, out_indices=(0, 1, 2),
        pyramid_scales=(2, 1, 0.5), pyramid_norm_cfg=norm_cfg, frozen_stages=3),
    neck=dict(in_channels=[64, 64, 64], out_channels=32, num_outs=4, norm_cfg=norm_cfg),
    rpn_head=dict(
        in_channels=32, feat_channels=32,
        anchor_generator=dict(scales=[4], strides=[4, 8, 16, 32])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32, featmap_strides=[4, 8, 16]),
        bbox_head=dict(
            class_embeddings=class_embeddings, class_names=classes, novel_classes=novel_classes,
            in_channels=32, fc_out_channels=64, conv_out_channels=32, num_shared_convs=1,
            num_shared_fcs=1, norm_cfg=norm_cfg)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100), rcnn=dict(score_thr=0.001)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='OVCocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='images/train/'),
        drop_novel=True,
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OVCocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='images/val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='OVCocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox')
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5)]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.1),
    clip_grad=dict(max_norm=1.0, norm_type=2))
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(by_epoch=False, interval=20, save_best='coco/novel_ap50', rule='greater'))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))  # CPU-friendly; use nccl on GPUs
randomness = dict(seed=0)
