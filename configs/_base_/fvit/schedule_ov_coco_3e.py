# OV-COCO: 3 epochs, AdamW, constant lr after warm-up (longer training over-fits to base classes).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250)]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    clip_grad=dict(max_norm=1.0, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=64)
