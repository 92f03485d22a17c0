# Cat-Seg-style open-vocabulary segmentor on a CLIP ViT-B/16 (docs/method.md section 6.2).
# Training configs set model.backbone.pretrained to the CLIP weight file (OpenAI weights:
# clip_model='ViT-B-16-quickgelu') and decode_head.class_embeddings to the training classes'
# embedding file (tools/build_text_embeddings.py, same model and weights); test configs read the
# tower from --checkpoint and set decode_head.test_class_embeddings.
_base_ = ['../clip_normalization.py']
crop_size = (384, 384)
data_preprocessor = dict(
    type='SegDataPreProcessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}}, bgr_to_rgb=True,
    pad_val=0, seg_pad_val=255, size=crop_size)
model = dict(
    type='OVEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='CatSegCLIPViT',
        clip_model='ViT-B-16-quickgelu',
        pretrained=None,             # set by the training config
        out_indices=(3, 7),          # decoder guidance (Cat-Seg: layers 4 and 8 of B/16)
        finetune='attention',        # Cat-Seg fine-tunes CLIP's attention layers
        dense_mode='value'),
    decode_head=dict(
        type='CatSegOVHead',
        text_dim=512,
        guidance_channels=(768, 768),
        class_embeddings=None,       # set by the training config
        test_class_embeddings=None,  # set per evaluation dataset
        embed_dims=128,
        appearance_dims=128,
        text_guidance_dims=128,
        num_layers=2,
        num_heads=4,
        window_size=12,
        pool_size=(2, 2),
        class_attention='linear',
        decoder_dims=(64, 32),
        decoder_guidance_dims=(32, 16),
        class_chunk_size=None,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(256, 256)))
custom_hooks = [dict(type='OVClassEmbeddingHook')]
