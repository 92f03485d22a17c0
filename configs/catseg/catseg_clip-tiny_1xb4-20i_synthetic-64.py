# Tiny Cat-Seg-style config for tests and the demo: a random 3-block CLIP ViT (patch 8, width 64),
# 64 px synthetic scenes (24 classes), 20 iterations. The class-embedding file is made with the
# tiny text tower, e.g. by tests/segmentation (or: python tools/build_text_embeddings.py ...).
_base_ = [
    '../_base_/clip_normalization.py',
    '../_base_/models/clip_tiny.py',
    '../_base_/datasets/synthetic_seg_64.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_200i.py',
]
model = dict(
    type='OVEncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}},
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(64, 64)),
    backbone=dict(type='CatSegCLIPViT', clip_model={{_base_.tiny_clip}}, pretrained=None,
                  out_indices=(0, 1), finetune='attention'),
    decode_head=dict(
        type='CatSegOVHead', text_dim=32, guidance_channels=(64, 64),
        class_embeddings='data/demo/catseg_text_tiny.pth', test_class_embeddings=None,
        embed_dims=32, appearance_dims=16, text_guidance_dims=16, num_layers=1, num_heads=4,
        window_size=4, pool_size=(2, 2), class_attention='linear', decoder_dims=(32, 16),
        decoder_guidance_dims=(8, 8), class_chunk_size=None, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
custom_hooks = [dict(type='OVClassEmbeddingHook')]
_loader = dict(type='LoadCheckedSegMap', num_classes=24, ignore_index=255)
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'), _loader, dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'), _loader, dict(type='PackSegInputs')]))
test_dataloader = val_dataloader
optim_wrapper = dict(constructor='FrozenSummaryOptimWrapperConstructor',
                     paramwise_cfg=dict(custom_keys={'backbone.tower': dict(lr_mult=0.1)}))
param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=0, end=20, by_epoch=False)]
train_cfg = dict(max_iters=20, val_interval=20)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=20, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
