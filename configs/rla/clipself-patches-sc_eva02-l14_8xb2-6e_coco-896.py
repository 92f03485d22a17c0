# SC-RLA: clipself-patches + Spatial Correlation Distillation from the frozen initial tower.
_base_ = ['./clipself-patches_eva02-l14_8xb2-6e_coco-896.py', '../_base_/scd_hook.py']
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP weight file (docs/towers.md)
data_root = 'data/coco/'  # train2017/ and annotations/instances_train2017.json
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained)
train_dataloader = dict(dataset=dict(data_root=data_root))
custom_hooks = [_base_.scd_hook]
