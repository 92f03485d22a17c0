# Stage 2, RLA only: clipself-proposals fine-tuning of EVA02-B-16 (docs/method.md section 5);
# clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py with another tower.
_base_ = ['./clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py']
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'  # CLIP weight file (docs/towers.md)
data_root = 'data/coco/'  # train2017/ and annotations/instances_train2017.json
proposal_file = 'proposals/train2017_proposals.json'  # under data_root; tools/make_proposals.py
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-B-16'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
train_dataloader = dict(dataset=dict(data_root=data_root, proposal_file=proposal_file))
