# Stage 2, RLA only: clipself-patches fine-tuning of EVA02-L-14 (METHOD.md section 5).
# Edit: clip_pretrained (local weights), data_root.
_base_ = [
    '../_base_/datasets/coco_rla_patches_1024.py',
    '../_base_/schedules/rla_6e.py',
    '../_base_/default_runtime.py',
]
image_size = 896  # a multiple of the patch size 14
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='ResizeLongestSidePad', size=896),
    dict(type='RandomGridBoxes', max_split=6, max_boxes=20),
    dict(type='PackImageInputs'),
]))
clip_model = 'EVA02-L-14'
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'
model = dict(
    type='RLATrainer',
    clip_model=clip_model,
    pretrained=clip_pretrained,
    loss_rla=dict(type='CLIPSelfLoss'),
    dense_mode='value',
    crop_enlarge=1.0,
    grad_checkpointing=True)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
