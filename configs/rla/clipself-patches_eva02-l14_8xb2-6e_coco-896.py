# Stage 2, RLA only: clipself-patches fine-tuning of EVA02-L-14 (docs/method.md section 5);
# clipself-patches_vit-l14-openai_8xb2-6e_coco-896.py with another tower.
_base_ = ['./clipself-patches_vit-l14-openai_8xb2-6e_coco-896.py']
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP weight file (docs/towers.md)
data_root = 'data/coco/'  # train2017/ and annotations/instances_train2017.json
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-L-14'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
train_dataloader = dict(dataset=dict(data_root=data_root))
