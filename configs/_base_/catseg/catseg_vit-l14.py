# Cat-Seg-style segmentor on a CLIP ViT-L/14 (OpenAI weights: 'ViT-L-14-quickgelu').
_base_ = ['./catseg_vit-b16.py']
model = dict(
    backbone=dict(clip_model='ViT-L-14-quickgelu', out_indices=(7, 15)),
    decode_head=dict(text_dim=768, guidance_channels=(1024, 1024)))
