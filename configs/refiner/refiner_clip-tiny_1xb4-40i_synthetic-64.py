# Tiny stage-1 config for the demo and tests: a randomly initialised 3-block CLIP ViT
# (refclip_mm.clip.tiny.TINY_OPENAI_ARCH, patch 8) on 64 px synthetic scenes.
# Data: python tools/make_synthetic_data.py data/demo
# Weights: python -c "from refclip_mm.clip.tiny import save_tiny_clip; save_tiny_clip('data/demo/tiny_clip.pth')"
_base_ = ['../_base_/default_runtime.py', '../_base_/models/clip_tiny.py',
          '../_base_/datasets/synthetic_unlabeled_64.py']
clip_pretrained = 'data/demo/tiny_clip.pth'
model = dict(
    type='RefinerTrainer',
    clip_model={{_base_.tiny_clip}},
    pretrained=clip_pretrained,
    refiner=dict(type='Refiner', depth=2, num_heads=4, mlp_ratio=2.0),
    num_boxes=3,
    grid_size=4,
    # per-token cosine (docs/method.md section 9); the InfoNCE of docs/method.md section 4.3:
    # loss_dense=dict(type='DenseInfoNCELoss', tau=0.2)
    loss_dense=dict(type='DenseCosineLoss'),
    loss_scd=dict(type='SCDLoss', tau=0.2, loss_weight=0.4))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=40, by_epoch=False, begin=0, end=40)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=20, max_keep_ckpts=2))
log_processor = dict(window_size=10, by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
