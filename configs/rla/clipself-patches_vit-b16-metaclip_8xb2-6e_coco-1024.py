# Stage 2, RLA only: clipself-patches fine-tuning of MetaCLIP ViT-B/16 ('ViT-B-16-quickgelu' with
# MetaCLIP's 2.5B-pair weights, pretrained tag 'metaclip_fullcc'; docs/method.md section 5):
# clipself-patches_vit-b16-openai_8xb2-6e_coco-1024.py with other weights (same architecture).
# 8 GPUs x 2 images = batch 16, GPUs of 16 GB or more (the model and sizes of the OpenAI config).
_base_ = ['./clipself-patches_vit-b16-openai_8xb2-6e_coco-1024.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-quickgelu-metaclip_fullcc.bin'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained)
