# Stage 2, RLA only: clipself-proposals fine-tuning of ViT-B-16-quickgelu
# (docs/method.md section 5).
_base_ = [
    '../_base_/models/rla_vit-b16-openai.py',
    '../_base_/datasets/coco_rla_proposals_1024.py',
    '../_base_/schedules/rla_6e.py',
    '../_base_/default_runtime_rla.py',
]
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP weight file (docs/towers.md)
data_root = 'data/coco/'  # train2017/ and annotations/instances_train2017.json
proposal_file = 'proposals/train2017_proposals.json'  # under data_root; tools/make_proposals.py
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained, loss_rla=dict(type='CLIPSelfLoss'), crop_enlarge=1.5)
train_dataloader = dict(dataset=dict(data_root=data_root, proposal_file=proposal_file))
