# F-ViT (Faster R-CNN) on OV-COCO, ViT-L-14-quickgelu backbone, 896 px, 3 epochs, 8 GPUs x 8 images:
# fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py with another tower and image size.
# Metric: box AP50 on the 17 novel classes (coco/novel_ap50). See docs/detection.md.
# Assumes 8 GPUs x 8 images (the paper's and CLIPSelf's set-up: 8 A100s), about 26 GB each: an estimate,
# not measured: the ViT-B/16 estimate at 640 px scaled by the pixels (2x) and a
# 3.5x larger frozen tower. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_coco_detection.py) ----------------------
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/coco_vit-l14-openai.pth'  # tools/build_text_embeddings.py --dataset coco
# ------------------------------------------------------------------------------------------
image_size = (896, 896)
model = dict(
    data_preprocessor=dict(fixed_size=image_size),  # pads every batch to image_size
    backbone=dict(clip_model='ViT-L-14-quickgelu', pretrained=clip_pretrained, out_indices=(6, 10, 14, 23),
                  frozen_stages=24),
    neck=dict(in_channels=[1024] * 4),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings)))
# the B/16 config's pipelines, their image sizes (`scale` of the resizes, `crop_size` of the crop)
# set to image_size
train_pipeline = [dict(t, **{k: image_size for k in ('scale', 'crop_size') if k in t})
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, **{k: image_size for k in ('scale', 'crop_size') if k in t})
                 for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
