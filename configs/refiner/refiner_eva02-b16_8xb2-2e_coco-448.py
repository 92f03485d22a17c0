# Stage 1 on a frozen EVA02-CLIP-B/16 (open_clip 'EVA02-B-16'); otherwise as the ViT-B/16 config.
_base_ = ['./refiner_vit-b16-openai_8xb2-2e_coco-448.py']
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'  # CLIP weight file (docs/towers.md)
data_root = 'data/coco/'  # train2017/ and annotations/instances_train2017.json
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-B-16'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
train_dataloader = dict(dataset=dict(data_root=data_root))
