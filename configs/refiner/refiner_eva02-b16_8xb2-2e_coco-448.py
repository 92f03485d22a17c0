# Stage 1 on a frozen EVA02-CLIP-B/16 (open_clip 'EVA02-B-16'); otherwise as the ViT-B/16 config.
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s) and GPUs of 8 GB or more:
# an estimate, not measured at this size (the frozen tower runs without autograd, the
# Refiner has two blocks). Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./refiner_vit-b16-openai_8xb2-2e_coco-448.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-B-16'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
