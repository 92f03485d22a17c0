# Stage 2, RLA only: clipself-proposals fine-tuning of EVA02-L-14 (docs/method.md section 5);
# clipself-proposals_vit-l14-openai_8xb2-6e_coco-896.py with another tower.
_base_ = ['./clipself-proposals_vit-l14-openai_8xb2-6e_coco-896.py']
# proposal_file (the region proposals): ../_base_/datasets/coco_rla_proposals_1024.py
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-L-14'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
