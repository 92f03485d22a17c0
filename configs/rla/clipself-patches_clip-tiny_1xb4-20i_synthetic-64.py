# Tiny stage-2 config for the demo and tests: CLIPSelf ("patches") fine-tuning of a 3-block
# CLIP ViT (refclip_mm.clip.tiny.TINY_OPENAI_ARCH, patch 8) on 64 px synthetic scenes.
# Data: python tools/make_synthetic_data.py data/demo
# Initial weights: python -c "from refclip_mm.clip.tiny import save_tiny_clip; save_tiny_clip('data/demo/tiny_clip.pth')"
_base_ = ['../_base_/default_runtime.py', '../_base_/models/clip_tiny.py',
          '../_base_/datasets/synthetic_unlabeled_64.py']
clip_pretrained = 'data/demo/tiny_clip.pth'
model = dict(
    type='RLATrainer',
    clip_model={{_base_.tiny_clip}},
    pretrained=clip_pretrained,
    loss_rla=dict(type='CLIPSelfLoss'),
    crop_enlarge=1.0)
# the base pipeline with grid boxes requested before packing
train_pipeline = _base_.train_pipeline[:-1] + [
    dict(type='RandomGridBoxes', max_split=3, max_boxes=6)] + _base_.train_pipeline[-1:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.1),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='CosineAnnealingLR', T_max=15, by_epoch=False, begin=5, end=20),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10, max_keep_ckpts=2))
log_processor = dict(window_size=5, by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
