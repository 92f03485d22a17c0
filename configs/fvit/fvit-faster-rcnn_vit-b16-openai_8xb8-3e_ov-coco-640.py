# F-ViT (Faster R-CNN) on OV-COCO, ViT-B-16-quickgelu backbone, 640 px, 3 epochs, 8 GPUs x 8 images.
# Metric: box AP50 on the 17 novel classes (coco/novel_ap50). See docs/detection.md.
# Assumes 8 GPUs x 8 images (the paper's and CLIPSelf's set-up: 8 A100s), about 13 GB each: an
# estimate from the step measured at 320 px and 2 images (peak 1.6 GB on the CPU, tower
# frozen; benchmarks/bench_memory_switches.py) with the activations scaled to 640 px and
# 8 images (16x). Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = [
    '../_base_/fvit/fvit_faster-rcnn.py', '../_base_/fvit/ov_coco_detection.py',
    '../_base_/fvit/schedule_ov_coco_3e.py', '../_base_/fvit/default_runtime_det.py'
]
# ---- paths to edit (data_root: ../_base_/fvit/ov_coco_detection.py) ----------------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/coco_vit-b16-openai.pth'  # tools/build_text_embeddings.py --dataset coco
# ------------------------------------------------------------------------------------------
model = dict(
    data_preprocessor=dict(fixed_size={{_base_.image_size}}),  # pads every batch to the data's image_size
    backbone=dict(clip_model='ViT-B-16-quickgelu', pretrained=clip_pretrained, out_indices=(3, 5, 7, 11),
                  frozen_stages=12),
    neck=dict(in_channels=[768] * 4),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings,
                                 class_names={{_base_.ov_coco_classes}},
                                 novel_classes={{_base_.ov_coco_novel_classes}},
                                 clip_temperature=75.0, alpha=0.1, beta=0.8)))
default_hooks = dict(checkpoint=dict(save_best='coco/novel_ap50', rule='greater'))
