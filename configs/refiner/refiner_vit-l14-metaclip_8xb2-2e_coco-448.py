# Stage 1 on a frozen MetaCLIP ViT-L/14 (open_clip 'ViT-L-14-quickgelu' with MetaCLIP's 2.5B-pair
# weights, pretrained tag 'metaclip_fullcc'): the OpenAI ViT-L/14 config with other weights (same
# architecture, QuickGELU; 448 px = 32 x 32 tokens, Refiner width 768). 8 GPUs x 2 images =
# batch 16, GPUs of 16 GB or more (the model and sizes of the OpenAI config).
_base_ = ['./refiner_vit-l14-openai_8xb2-2e_coco-448.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-L-14-quickgelu-metaclip_fullcc.bin'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained)
