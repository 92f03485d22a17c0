# Stage 2, RLA only: clipself-patches fine-tuning of EVA02-L-14 (docs/method.md section 5);
# clipself-patches_vit-l14-openai_8xb2-6e_coco-896.py with another tower.
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s), about 9 GB each: an
# estimate, not measured: the ViT-B/16 estimate with 3.5x the parameters and 2.7x the
# activations gradient checkpointing keeps. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./clipself-patches_vit-l14-openai_8xb2-6e_coco-896.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-L-14'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
