# F-ViT (Mask R-CNN) on OV-LVIS, EVA02-L-14 backbone, 896 px, 48 epochs, 8 GPUs x 8 images.
# fvit-mask-rcnn_vit-l14-openai_8xb8-48e_ov-lvis-896.py with an EVA02-CLIP tower; see it for data and schedule.
_base_ = ['./fvit-mask-rcnn_vit-l14-openai_8xb8-48e_ov-lvis-896.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_lvis_instance.py) -----------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/lvis_eva02-l14.pth'  # tools/build_text_embeddings.py --ann lvis_v1_val.json
# ------------------------------------------------------------------------------------------
model = dict(
    backbone=dict(clip_model='EVA02-L-14', pretrained=clip_pretrained),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings)))
