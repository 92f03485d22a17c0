# Stage-2 schedule (docs/method.md section 5.4): AdamW lr 1e-5, wd 0.1, 6 epochs, 1000
# warm-up iterations then cosine, batch 16 (8 GPUs x 2).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1, betas=(0.9, 0.98)),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', T_max=6, eta_min=0.0, by_epoch=True, begin=0, end=6,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6)
auto_scale_lr = dict(enable=False, base_batch_size=16)
