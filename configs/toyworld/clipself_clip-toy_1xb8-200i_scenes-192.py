# ToyWorld stage 2, RLA only (docs/toyworld.md): CLIPSelf ("patches") fine-tuning of the
# stage-0 toy CLIP at 3x its native 64 px, as the paper runs stage 2 at 1024 px on a 224 px
# CLIP. tools/toyworld.py sets every path (the stage-0 CLIP file, the scenes' data_root) and
# the seed through cfg-options; the config keeps the tiny config's data_root and no CLIP file.
_base_ = ['../rla/clipself-patches_clip-tiny_1xb4-20i_synthetic-64.py',
          '../_base_/models/clip_toy.py']
image_size = 192
max_iters = 200
model = dict(clip_model={{_base_.toy_clip}}, pretrained=None)
train_pipeline = [dict(t, size=image_size) if 'size' in t else t for t in _base_.train_pipeline]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
# bf16 autocast (refclip_mm.engine.AutocastOptimWrapper); the ToyWorld protocol re-trains seed 0
# in fp32 to show the difference (docs/toyworld.md)
optim_wrapper = dict(type='AutocastOptimWrapper', optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_iters - 30, by_epoch=False, begin=30, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
log_processor = dict(window_size=50)
