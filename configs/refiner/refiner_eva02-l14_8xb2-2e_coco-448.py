# Stage 1 on a frozen EVA02-CLIP-L/14 (open_clip 'EVA02-L-14'); Refiner width 768.
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s) and GPUs of 16 GB or more:
# an estimate, not measured (the ViT-B/16 estimate with a 3.5x larger frozen tower
# and 1024 tokens per view). Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./refiner_vit-l14-openai_8xb2-2e_coco-448.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-L-14'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
