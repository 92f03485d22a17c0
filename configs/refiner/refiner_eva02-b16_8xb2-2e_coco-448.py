# Stage 1 on a frozen EVA02-CLIP-B/16 (open_clip 'EVA02-B-16'); otherwise as the ViT-B/16 config.
_base_ = ['./refiner_vit-b16-openai_8xb2-2e_coco-448.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-B-16'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
