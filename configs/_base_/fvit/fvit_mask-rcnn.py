# F-ViT with a class-agnostic mask head (OV-LVIS); LVIS test settings and CLIP temperature 50.
_base_ = ['./fvit_faster-rcnn.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    roi_head=dict(
        bbox_head=dict(clip_temperature=50.0, alpha=0.1, beta=0.6, background_weight=0.9),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=1,
            class_agnostic=True,  # novel classes get masks too
            norm_cfg=norm_cfg,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(rcnn=dict(assigner=dict(match_low_quality=True), mask_size=28)),
    test_cfg=dict(
        rcnn=dict(score_thr=0.0001, nms=dict(type='nms', iou_threshold=0.5), max_per_img=300,
                  mask_thr_binary=0.5)))
