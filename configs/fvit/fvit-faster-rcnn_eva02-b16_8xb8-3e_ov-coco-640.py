# F-ViT (Faster R-CNN) on OV-COCO, EVA02-B-16 backbone, 640 px, 3 epochs, 8 GPUs x 8 images.
# fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py with an EVA02-CLIP tower; see it for data and schedule.
_base_ = ['./fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_coco_detection.py) ----------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/coco_eva02-b16.pth'  # tools/build_text_embeddings.py --dataset coco
# ------------------------------------------------------------------------------------------
model = dict(
    backbone=dict(clip_model='EVA02-B-16', pretrained=clip_pretrained),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings)))
