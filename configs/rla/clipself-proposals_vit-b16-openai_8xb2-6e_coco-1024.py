# Stage 2, RLA only: clipself-proposals fine-tuning of ViT-B-16-quickgelu
# (docs/method.md section 5).
_base_ = [
    '../_base_/models/rla_vit-b16-openai.py',
    '../_base_/datasets/coco_rla_proposals_1024.py',
    '../_base_/schedules/rla_6e.py',
    '../_base_/default_runtime_rla.py',
]
# proposal_file (the region proposals): ../_base_/datasets/coco_rla_proposals_1024.py
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained, loss_rla=dict(type='CLIPSelfLoss'), crop_enlarge=1.5)
