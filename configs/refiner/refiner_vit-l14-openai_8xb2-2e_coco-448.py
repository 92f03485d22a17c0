# Stage 1 on a frozen OpenAI CLIP ViT-L/14 (448 px = 32 x 32 tokens); Refiner width 768.
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s) and GPUs of 16 GB or more:
# an estimate, not measured (the ViT-B/16 estimate with a 3.5x larger frozen tower
# and 1024 tokens per view). Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./refiner_vit-b16-openai_8xb2-2e_coco-448.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'ViT-L-14-quickgelu'  # OpenAI weights use QuickGELU
model = dict(clip_model=clip_model, pretrained=clip_pretrained, refiner=dict(num_heads=12))
