# ToyWorld stage 1 (docs/toyworld.md): the Refiner on the frozen stage-0 toy CLIP, on the
# ToyWorld's training scenes. tools/toyworld.py sets the paths and the seed.
_base_ = ['../refiner/refiner_clip-tiny_1xb4-40i_synthetic-64.py', '../_base_/models/clip_toy.py']
max_iters = 300
model = dict(clip_model={{_base_.toy_clip}}, pretrained='work_dirs/toyworld/clip_toy.pth',
             refiner=dict(num_heads=4))
train_dataloader = dict(batch_size=16, dataset=dict(data_root='work_dirs/toyworld/data/'))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
log_processor = dict(window_size=50)
