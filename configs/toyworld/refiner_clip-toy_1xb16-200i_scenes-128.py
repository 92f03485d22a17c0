# ToyWorld stage 1 (docs/toyworld.md): the Refiner on the frozen stage-0 toy CLIP, on the
# ToyWorld's training scenes at 2x the CLIP's native 64 px (the paper: 448 px on a 224 px
# CLIP). tools/toyworld.py sets every path (the stage-0 CLIP file, the scenes' data_root) and
# the seed through cfg-options; the config keeps the tiny config's data_root and no CLIP file.
_base_ = ['../refiner/refiner_clip-tiny_1xb4-40i_synthetic-64.py', '../_base_/models/clip_toy.py']
image_size = 128
max_iters = 200
# the stage-1 loss registered for ToyWorld's protocol (docs/toyworld.md), kept as it was run
model = dict(clip_model={{_base_.toy_clip}}, pretrained=None,
             refiner=dict(num_heads=4),
             loss_dense=dict(type='DenseInfoNCELoss', tau=0.2, _delete_=True))
train_pipeline = [dict(t, size=image_size) if 'size' in t else t for t in _base_.train_pipeline]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
log_processor = dict(window_size=50)
