# Tiny training-free open-vocabulary config (tests): the dense map of a random tiny CLIP tower
# against class embeddings from its tiny text tower, on 64 px synthetic scenes.
_base_ = [
    '../_base_/clip_normalization.py',
    '../_base_/models/clip_tiny.py',
    '../_base_/datasets/synthetic_seg_64.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(
    type='TrainingFreeOVSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}},
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=8),
    backbone=dict(type='CLIPViT', clip_model={{_base_.tiny_clip}}, pretrained=None, out_indices=(),
                  with_dense=True, frozen_stages=3),
    decode_head=dict(type='DenseCosineOVHead', text_dim=32,
                     test_class_embeddings='data/demo/catseg_text_tiny.pth'),
    test_cfg=dict(mode='whole'))
custom_hooks = [dict(type='OVClassEmbeddingHook')]
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadCheckedSegMap', num_classes=24, ignore_index=255),
    dict(type='PackSegInputs')]))
train_dataloader = None
val_dataloader = None
val_evaluator = None
test_cfg = dict(type='TestLoop')
