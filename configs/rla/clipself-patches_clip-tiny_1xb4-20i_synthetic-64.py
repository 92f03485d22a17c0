# Tiny stage-2 config for the demo and tests: CLIPSelf ("patches") fine-tuning of a 3-block
# CLIP ViT (refclip_mm.clip.tiny.TINY_OPENAI_ARCH, patch 8) on 64 px synthetic scenes.
# Data: python tools/make_synthetic_data.py data/demo
# Initial weights: python -c "from refclip_mm.clip.tiny import save_tiny_clip; save_tiny_clip('data/demo/tiny_clip.pth')"
_base_ = ['../_base_/default_runtime.py', '../_base_/models/clip_tiny.py']
image_size = 64
data_root = 'data/demo/'
clip_pretrained = 'data/demo/tiny_clip.pth'
model = dict(
    type='RLATrainer',
    clip_model={{_base_.tiny_clip}},
    pretrained=clip_pretrained,
    loss_rla=dict(type='CLIPSelfLoss'),
    crop_enlarge=1.0)
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='UnlabeledImageDataset',
        data_root=data_root,
        data_prefix=dict(img='images/train'),
        pipeline=[
            dict(type='LoadImageChecked', on_unreadable='raise'),
            dict(type='ResizeLongestSidePad', size=image_size),
            dict(type='RandomGridBoxes', max_split=3, max_boxes=6),
            dict(type='PackImageInputs'),
        ]))
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
