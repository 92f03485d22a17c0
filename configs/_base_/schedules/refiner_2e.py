# Stage-1 schedule (docs/method.md section 4.4): AdamW lr 1e-4, wd 0.05, 2 epochs, cosine,
# batch 16.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=2, eta_min=0.0, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
auto_scale_lr = dict(enable=False, base_batch_size=16)
