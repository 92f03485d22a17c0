# Stage 2, RLA only: clipself-proposals fine-tuning of ViT-L-14-quickgelu (docs/method.md
# section 5); clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py with another tower.
_base_ = ['./clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py']
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'  # CLIP weight file (docs/towers.md)
data_root = 'data/coco/'  # train2017/ and annotations/instances_train2017.json
proposal_file = 'proposals/train2017_proposals.json'  # under data_root; tools/make_proposals.py
# ------------------------------------------------------------------------------------------
clip_model = 'ViT-L-14-quickgelu'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
image_size = 896  # a multiple of the patch size 14
# the B/16 config's pipeline, its image size (the `size` of ResizeLongestSidePad) set to image_size
train_pipeline = [dict(t, size=image_size) if 'size' in t else t for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(data_root=data_root, proposal_file=proposal_file, pipeline=train_pipeline))
