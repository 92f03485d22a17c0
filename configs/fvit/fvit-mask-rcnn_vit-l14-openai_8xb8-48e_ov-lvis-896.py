# F-ViT (Mask R-CNN) on OV-LVIS, ViT-L-14-quickgelu backbone, 896 px, 48 epochs, 8 GPUs x 8 images.
# Metric: mask AP on rare (novel) classes (lvis/segm_APr). See docs/detection.md.
_base_ = [
    '../_base_/fvit/fvit_mask-rcnn.py', '../_base_/fvit/ov_lvis_instance.py',
    '../_base_/fvit/schedule_ov_lvis_48e.py', '../_base_/fvit/default_runtime_det.py'
]
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/lvis_vit-l14-openai.pth'  # tools/build_text_embeddings.py --ann lvis_v1_val.json
data_root = 'data/lvis_v1/'  # annotations/ from tools/prepare_ov_lvis.py, train2017/, val2017/
# ------------------------------------------------------------------------------------------
image_size = (896, 896)
novel_classes = data_root + 'annotations/lvis_v1_ov_novel_classes.json'  # tools/prepare_ov_lvis.py
model = dict(
    data_preprocessor=dict(fixed_size=image_size),  # pads every batch to image_size
    backbone=dict(clip_model='ViT-L-14-quickgelu', pretrained=clip_pretrained, out_indices=(6, 10, 14, 23),
                  frozen_stages=24),
    neck=dict(in_channels=[1024] * 4),
    roi_head=dict(bbox_head=dict(
        class_embeddings=class_embeddings,
        class_names=None,  # the embedding file's classes, in its (LVIS category) order
        novel_classes=novel_classes,
        clip_temperature=50.0, alpha=0.1, beta=0.6)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='lvis/segm_APr', rule='greater'))
