# ToyWorld stage 0 (docs/toyworld.md): contrastive pre-training of the toy CLIP (ViT 6 x 192,
# patch 8, 64 px; text 3 x 128) from scratch on synthetic scene-caption pairs drawn on the fly,
# each a random-resized crop of a scene captioned with what the crop shows. Batch 256: in the
# recipe sweep (docs/toyworld.md) the batch size, not the number of steps, decided whether the
# CLIP learns shapes.
#   python tools/train.py configs/toyworld/stage0_clip-toy_1xb256-800i_scenes-64.py
# tools/toyworld.py runs it (and caches the result); export with its --export-clip step.
_base_ = ['../_base_/default_runtime.py', '../_base_/models/clip_toy.py']
max_iters = 800
model = dict(type='ContrastiveCLIPTrainer', clip_model={{_base_.toy_clip}}, pretrained=None)
train_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='SyntheticCaptionDataset',
        num_samples=250000,
        seed=1000,
        scene_cfg=dict(image_size=64, objects_per_image=(1, 3), object_scale=(0.2, 0.55)),
        crop=dict(scale=(0.25, 1.0)),
        pipeline=[dict(type='PackImageInputs', meta_keys=('caption', 'img_shape'))]))
# bf16 autocast on CPU and GPU (refclip_mm.engine.AutocastOptimWrapper; the recipe sweep ran in bf16)
optim_wrapper = dict(
    type='AutocastOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.1, betas=(0.9, 0.98)),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, eta_min=1e-5, by_epoch=False,
         begin=100, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=1))
log_processor = dict(window_size=50, by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
