# Tiny demo / test config: a randomly initialised 3-block CLIP ViT (patch 8, width 64) as an
# mmseg backbone with an FCN head, trained on 64 px synthetic scenes (24 classes).
# For a real tower set model.backbone.clip_model='ViT-B-16' and pretrained='/path/to/weights'.
_base_ = [
    '../_base_/clip_normalization.py',
    '../_base_/models/clip_tiny.py',
    '../_base_/datasets/synthetic_seg_64.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_200i.py',
]
# OpenAI CLIP normalisation, in 0-255 pixel units
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}}, bgr_to_rgb=True,
        pad_val=0, seg_pad_val=255, size=(64, 64)),
    backbone=dict(
        type='CLIPViT', clip_model={{_base_.tiny_clip}}, pretrained=None, out_indices=(1, 2)),
    decode_head=dict(
        type='FCNHead', in_channels=64, in_index=-1, channels=64, num_convs=1,
        concat_input=False, dropout_ratio=0.0, num_classes=24, norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
env_cfg = dict(dist_cfg=dict(backend='gloo'))  # CPU-friendly; use nccl on GPUs
randomness = dict(seed=0)
