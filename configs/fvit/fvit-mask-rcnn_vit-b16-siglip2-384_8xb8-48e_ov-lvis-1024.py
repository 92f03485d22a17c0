# F-ViT (Mask R-CNN) on OV-LVIS, SigLIP 2 ViT-B/16 backbone ('ViT-B-16-SigLIP2-384', no class
# token; 1024 px = 64 x 64 tokens), 48 epochs, 8 GPUs x 8 images.
# fvit-mask-rcnn_vit-b16-openai_8xb8-48e_ov-lvis-1024.py with another tower and SigLIP's
# normalisation; see it for data and schedule. The class embeddings come from SigLIP 2's text tower.
# Assumes 8 GPUs x 8 images (the paper's and CLIPSelf's set-up: 8 A100s), about 32 GB each: the
# OpenAI config's estimate (not measured for this tower; same token count at 1024 px), the mask
# head not counted. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./fvit-mask-rcnn_vit-b16-openai_8xb8-48e_ov-lvis-1024.py', '../_base_/siglip_normalization.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_lvis_instance.py) -----------------------
clip_pretrained = 'checkpoints/ViT-B-16-SigLIP2-384.safetensors'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/lvis_vit-b16-siglip2-384.pth'  # tools/build_text_embeddings.py --ann lvis_v1_val.json
# ------------------------------------------------------------------------------------------
model = dict(
    data_preprocessor=dict(mean=_base_.siglip_mean, std=_base_.siglip_std),
    backbone=dict(clip_model='ViT-B-16-SigLIP2-384', pretrained=clip_pretrained),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings)))
