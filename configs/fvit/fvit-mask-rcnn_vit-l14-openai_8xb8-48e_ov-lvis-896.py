# F-ViT (Mask R-CNN) on OV-LVIS, ViT-L-14-quickgelu backbone, 896 px, 48 epochs, 8 GPUs x 8 images:
# fvit-mask-rcnn_vit-b16-openai_8xb8-48e_ov-lvis-1024.py with another tower and image size.
# Metric: mask AP on rare (novel) classes (lvis/segm_APr). See docs/detection.md.
# Assumes 8 GPUs x 8 images (the paper's and CLIPSelf's set-up: 8 A100s), about 26 GB each: an estimate,
# not measured: the OV-COCO ViT-B/16 estimate scaled by 2x the pixels of 640 px and a 3.5x larger frozen tower,
# the mask head not counted. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./fvit-mask-rcnn_vit-b16-openai_8xb8-48e_ov-lvis-1024.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_lvis_instance.py) -----------------------
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/lvis_vit-l14-openai.pth'  # tools/build_text_embeddings.py --ann lvis_v1_val.json
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
