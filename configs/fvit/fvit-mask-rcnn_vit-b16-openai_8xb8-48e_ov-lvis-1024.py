# F-ViT (Mask R-CNN) on OV-LVIS, ViT-B-16-quickgelu backbone, 1024 px, 48 epochs, 8 GPUs x 8 images.
# Metric: mask AP on rare (novel) classes (lvis/segm_APr). See docs/detection.md.
# Assumes 8 GPUs x 8 images (the paper's and CLIPSelf's set-up: 8 A100s), about 32 GB each: an estimate,
# not measured: the OV-COCO ViT-B/16 estimate scaled by 2.6x the pixels of 640 px,
# the mask head not counted. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = [
    '../_base_/fvit/fvit_mask-rcnn.py', '../_base_/fvit/ov_lvis_instance.py',
    '../_base_/fvit/schedule_ov_lvis_48e.py', '../_base_/fvit/default_runtime_det.py'
]
# ---- paths to edit (data_root: ../_base_/fvit/ov_lvis_instance.py) -----------------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/lvis_vit-b16-openai.pth'  # tools/build_text_embeddings.py --ann lvis_v1_val.json
# ------------------------------------------------------------------------------------------
model = dict(
    data_preprocessor=dict(fixed_size={{_base_.image_size}}),  # pads every batch to the data's image_size
    backbone=dict(clip_model='ViT-B-16-quickgelu', pretrained=clip_pretrained, out_indices=(3, 5, 7, 11),
                  frozen_stages=12),
    neck=dict(in_channels=[768] * 4),
    roi_head=dict(bbox_head=dict(
        class_embeddings=class_embeddings,
        class_names=None,  # the embedding file's classes, in its (LVIS category) order
        novel_classes={{_base_.ov_lvis_novel_classes}},
        clip_temperature=50.0, alpha=0.1, beta=0.6)))
default_hooks = dict(checkpoint=dict(save_best='lvis/segm_APr', rule='greater'))
