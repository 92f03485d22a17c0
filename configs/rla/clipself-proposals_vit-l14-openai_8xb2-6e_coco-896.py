# Stage 2, RLA only: clipself-proposals fine-tuning of ViT-L-14-quickgelu (METHOD.md section 5).
# Edit: clip_pretrained (local weights), data_root, proposal_file.
_base_ = [
    '../_base_/datasets/coco_rla_proposals_1024.py',
    '../_base_/schedules/rla_6e.py',
    '../_base_/default_runtime.py',
]
image_size = 896  # a multiple of the patch size 14
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='LoadRegionProposals', proposal_file={{_base_.proposal_file}}, max_proposals=20),
    dict(type='ResizeLongestSidePad', size=896),
    dict(type='PackImageInputs'),
]))
clip_model = 'ViT-L-14-quickgelu'
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'
model = dict(
    type='RLATrainer',
    clip_model=clip_model,
    pretrained=clip_pretrained,
    loss_rla=dict(type='CLIPSelfLoss'),
    dense_mode='value',
    crop_enlarge=1.5,
    grad_checkpointing=True)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
