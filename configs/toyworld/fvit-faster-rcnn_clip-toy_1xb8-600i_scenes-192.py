# ToyWorld F-ViT (docs/toyworld.md): Faster R-CNN on a frozen toy CLIP tower at 3x its native
# 64 px (the paper: 640-1024 px on 224 px CLIPs), trained on the 15 base classes of the
# ToyWorld's scenes and tested on all 20 (OVCocoMetric: base / novel AP50).
# tools/toyworld.py sets the tower weights, the class embeddings, the data root and the seed.
_base_ = ['../fvit/fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py',
          '../_base_/models/clip_toy.py']
image_size = 192
max_iters = 600
model = dict(
    backbone=dict(clip_model={{_base_.toy_clip}}, out_indices=(1, 3, 5), frozen_stages=6),
    neck=dict(in_channels=[192, 192, 192], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=128, conv_out_channels=64)))
train_pipeline = [dict(t, scale=(image_size, image_size)) if 'scale' in t else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=(image_size, image_size)) if 'scale' in t else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, milestones=[int(max_iters * 0.8)], gamma=0.1,
         begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best=None))
