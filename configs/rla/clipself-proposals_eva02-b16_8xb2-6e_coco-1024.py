# Stage 2, RLA only: clipself-proposals fine-tuning of EVA02-B-16 (METHOD.md section 5).
# Edit: clip_pretrained (local weights), data_root, proposal_file.
_base_ = [
    '../_base_/datasets/coco_rla_proposals_1024.py',
    '../_base_/schedules/rla_6e.py',
    '../_base_/default_runtime.py',
]
clip_model = 'EVA02-B-16'
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'
model = dict(
    type='RLATrainer',
    clip_model=clip_model,
    pretrained=clip_pretrained,
    loss_rla=dict(type='CLIPSelfLoss'),
    dense_mode='value',
    crop_enlarge=1.5,
    grad_checkpointing=True)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
