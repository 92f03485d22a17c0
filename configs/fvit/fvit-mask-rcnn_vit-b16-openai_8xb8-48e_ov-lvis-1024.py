# F-ViT (Mask R-CNN) on OV-LVIS, ViT-B-16-quickgelu backbone, 1024 px, 48 epochs, 8 GPUs x 8 images.
# Metric: mask AP on rare (novel) classes (lvis/segm_APr). See docs/detection.md.
_base_ = [
    '../_base_/fvit/fvit_mask-rcnn.py', '../_base_/fvit/ov_lvis_instance.py',
    '../_base_/fvit/schedule_ov_lvis_48e.py', '../_base_/fvit/default_runtime_det.py'
]
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/lvis_vit-b16-openai.pth'  # tools/build_text_embeddings.py --ann lvis_v1_val.json
data_root = 'data/lvis_v1/'  # annotations/ from tools/prepare_ov_lvis.py, train2017/, val2017/
# ------------------------------------------------------------------------------------------
novel_classes = data_root + 'annotations/lvis_v1_ov_novel_classes.json'  # tools/prepare_ov_lvis.py
model = dict(
    data_preprocessor=dict(fixed_size={{_base_.image_size}}),  # pads every batch to the data's image_size
    backbone=dict(clip_model='ViT-B-16-quickgelu', pretrained=clip_pretrained, out_indices=(3, 5, 7, 11),
                  frozen_stages=12),
    neck=dict(in_channels=[768] * 4),
    roi_head=dict(bbox_head=dict(
        class_embeddings=class_embeddings,
        class_names=None,  # the embedding file's classes, in its (LVIS category) order
        novel_classes=novel_classes,
        clip_temperature=50.0, alpha=0.1, beta=0.6)))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='lvis/segm_APr', rule='greater'))
