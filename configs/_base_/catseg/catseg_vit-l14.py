# Cat-Seg-style segmentor on a CLIP ViT-L/14 (OpenAI weights: 'ViT-L-14-quickgelu'): what it
# changes in catseg_vit-b16.py's model. An L/14 config inherits its B/16 sibling and this file and
# merges both parts into its model, e.g.
#   model = dict(backbone=_base_.catseg_vit_l14.backbone, decode_head=_base_.catseg_vit_l14.decode_head)
catseg_vit_l14 = dict(
    backbone=dict(clip_model='ViT-L-14-quickgelu', out_indices=(7, 15)),
    decode_head=dict(text_dim=768, guidance_channels=(1024, 1024)))
