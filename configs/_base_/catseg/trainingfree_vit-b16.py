# Training-free open-vocabulary segmentation: argmax over classes of the cosine between the tower's
# dense map and the class text embeddings. Any tower: a CLIP file, a stage-2 checkpoint
# (pretrained='work_dirs/rla_.../iter_N.pth', the student is taken), or type='RefinerBackbone'.
_base_ = ['../clip_normalization.py']
model = dict(
    type='TrainingFreeOVSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}},
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=16),
    backbone=dict(type='CLIPViT', clip_model='ViT-B-16-quickgelu', pretrained=None,  # set by the leaf config
                  out_indices=(), with_dense=True, dense_mode='value', frozen_stages=12),
    decode_head=dict(type='DenseCosineOVHead', text_dim=512, test_class_embeddings=None,
                     align_corners=False),
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)))
custom_hooks = [dict(type='OVClassEmbeddingHook')]
