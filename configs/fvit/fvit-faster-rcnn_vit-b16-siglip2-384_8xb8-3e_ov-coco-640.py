# F-ViT (Faster R-CNN) on OV-COCO, SigLIP 2 ViT-B/16 backbone ('ViT-B-16-SigLIP2-384', no class
# token; 640 px = 40 x 40 tokens), 3 epochs, 8 GPUs x 8 images, GPUs of 24 GB or more (2 steps
# at 2 images and the validation peaked at 3.2 GB of memory, fp32 on CPU).
# fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py with another tower and SigLIP's
# normalisation; see it for data and schedule. The class embeddings come from SigLIP 2's text tower.
_base_ = ['./fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py', '../_base_/siglip_normalization.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_coco_detection.py) ----------------------
clip_pretrained = 'checkpoints/ViT-B-16-SigLIP2-384.safetensors'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/coco_vit-b16-siglip2-384.pth'  # tools/build_text_embeddings.py --dataset coco
# ------------------------------------------------------------------------------------------
model = dict(
    data_preprocessor=dict(mean=_base_.siglip_mean, std=_base_.siglip_std),
    backbone=dict(clip_model='ViT-B-16-SigLIP2-384', pretrained=clip_pretrained),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings)))
