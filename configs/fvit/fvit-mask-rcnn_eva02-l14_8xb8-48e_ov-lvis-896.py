# F-ViT (Mask R-CNN) on OV-LVIS, EVA02-L-14 backbone, 896 px, 48 epochs, 8 GPUs x 8 images.
# fvit-mask-rcnn_vit-l14-openai_8xb8-48e_ov-lvis-896.py with an EVA02-CLIP tower; see it for data and schedule.
# Assumes 8 GPUs x 8 images (the paper's and CLIPSelf's set-up: 8 A100s), about 26 GB each: an estimate,
# not measured: the OV-COCO ViT-B/16 estimate scaled by 2x the pixels of 640 px and a 3.5x larger frozen tower,
# the mask head not counted. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./fvit-mask-rcnn_vit-l14-openai_8xb8-48e_ov-lvis-896.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_lvis_instance.py) -----------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/lvis_eva02-l14.pth'  # tools/build_text_embeddings.py --ann lvis_v1_val.json
# ------------------------------------------------------------------------------------------
model = dict(
    backbone=dict(clip_model='EVA02-L-14', pretrained=clip_pretrained),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings)))
