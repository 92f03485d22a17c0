# Stage 1 on a frozen MetaCLIP ViT-B/16 (open_clip 'ViT-B-16-quickgelu' with MetaCLIP's 2.5B-pair
# weights, pretrained tag 'metaclip_fullcc'): the OpenAI ViT-B/16 config with other weights (same
# architecture, QuickGELU). 8 GPUs x 2 images = batch 16, GPUs of 8 GB or more (a step at 2
# images peaked at 1.9 GB of memory, fp32 on CPU).
_base_ = ['./refiner_vit-b16-openai_8xb2-2e_coco-448.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-quickgelu-metaclip_fullcc.bin'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained)
