# Tiny F-ViT (Mask R-CNN) on 64 px synthetic scenes in LVIS format (rare = novel): a pipeline
# check of the OV-LVIS path (OVLVISV1Dataset, class-agnostic masks, LVISMetric APr/APc/APf).
# The LVIS-format files (categories with frequency r/c/f, images with coco_url) are written by
# tests/detection (lvis_from_coco); paths are overridden like the OV-COCO tiny config.
_base_ = ['./fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py']
data_root = 'data/demo_lvis/'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    roi_head=dict(
        bbox_head=dict(class_names=None, novel_classes=None, clip_temperature=50.0, beta=0.6),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=32,
            featmap_strides=[4, 8, 16]),
        mask_head=dict(
            type='FCNMaskHead', num_convs=1, in_channels=32, conv_out_channels=32,
            num_classes=1, class_agnostic=True, norm_cfg=norm_cfg,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(rcnn=dict(mask_size=28)),
    test_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='OVLVISV1Dataset', data_root=data_root,
    metainfo=dict(classes={{_base_.classes}}),
    ann_file='annotations/lvis_train.json', data_prefix=dict(img='images/'), drop_novel=True,
    filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='OVLVISV1Dataset', data_root=data_root,
    metainfo=dict(classes={{_base_.classes}}),
    ann_file='annotations/lvis_val.json', data_prefix=dict(img='images/'), test_mode=True,
    pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='LVISMetric', ann_file=data_root + 'annotations/lvis_val.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='lvis/segm_APr', rule='greater'))
