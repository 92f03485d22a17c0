# F-ViT (Faster R-CNN) on OV-COCO, EVA02-L-14 backbone, 896 px, 3 epochs, 8 GPUs x 8 images.
# fvit-faster-rcnn_vit-l14-openai_8xb8-3e_ov-coco-896.py with an EVA02-CLIP tower; see it for data and schedule.
# Assumes 8 GPUs x 8 images (the paper's and CLIPSelf's set-up: 8 A100s), about 26 GB each: an estimate,
# not measured: the ViT-B/16 estimate at 640 px scaled by the pixels (2x) and a
# 3.5x larger frozen tower. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./fvit-faster-rcnn_vit-l14-openai_8xb8-3e_ov-coco-896.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_coco_detection.py) ----------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/coco_eva02-l14.pth'  # tools/build_text_embeddings.py --dataset coco
# ------------------------------------------------------------------------------------------
model = dict(
    backbone=dict(clip_model='EVA02-L-14', pretrained=clip_pretrained),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings)))
