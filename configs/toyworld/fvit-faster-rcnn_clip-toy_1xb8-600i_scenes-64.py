# ToyWorld F-ViT (docs/toyworld.md): Faster R-CNN on a frozen toy CLIP tower, trained on the
# 15 base classes of the ToyWorld's scenes and tested on all 20 (OVCocoMetric: base / novel AP50).
# tools/toyworld.py sets the tower weights, the class embeddings, the data root and the seed.
_base_ = ['../fvit/fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py',
          '../_base_/models/clip_toy.py']
max_iters = 600
model = dict(
    backbone=dict(clip_model={{_base_.toy_clip}}, out_indices=(1, 3, 5), frozen_stages=6),
    neck=dict(in_channels=[192, 192, 192], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=128, conv_out_channels=64)))
train_dataloader = dict(batch_size=8)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, milestones=[int(max_iters * 0.8)], gamma=0.1,
         begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best=None))
