# F-ViT (docs/method.md section 6.1): frozen CLIP ViT -> simple pyramid -> FPN -> RPN ->
# OV RoI head.
# Leaf configs set the CLIP model, its weights, the class-embedding file and the class split.
_base_ = ['../clip_normalization.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='FViT',
    use_clip_scores=True,
    data_preprocessor=dict(  # leaf configs set fixed_size=image_size (pad for batching only)
        type='FixedSizeDetDataPreprocessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}}, bgr_to_rgb=True,
        pad_size_divisor=32, fixed_size=None),
    backbone=dict(
        type='CLIPViT',
        clip_model='EVA02-B-16',
        pretrained=None,
        out_indices=(3, 5, 7, 11),
        pyramid_scales=(4, 2, 1, 0.5),
        pyramid_norm_cfg=norm_cfg,
        with_dense=True,
        dense_mode='value',
        frozen_stages=12),
    neck=dict(
        type='FPN', in_channels=[768, 768, 768, 768], out_channels=256, num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(
        type='RPNHead',
        in_channels=256,
        feat_channels=256,
        num_convs=2,
        anchor_generator=dict(
            type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='OVRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='OVBBoxHead',
            class_embeddings=None,       # set by the leaf config
            class_names=None,            # None: the embedding file's classes in its order
            novel_classes=None,
            in_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_shared_convs=4,
            num_shared_fcs=2,
            num_cls_fcs=1,
            num_reg_fcs=1,
            norm_cfg=norm_cfg,
            reg_class_agnostic=True,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0),
            learned_temperature=50.0,
            clip_temperature=75.0,
            alpha=0.1,
            beta=0.8,
            background_weight=0.2)),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(
            nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.4), max_per_img=100)))
