# Cat-Seg-style open-vocabulary segmentation, SigLIP 2 ViT-B/16 ('ViT-B-16-SigLIP2-384': 384 px is
# its native 24 x 24 grid; embed_dim 768), trained on COCO-Stuff-171 at 384 px, 80k iterations.
# Assumes 4 GPUs x 1 image (batch 4), GPUs of 12 GB or more (2 iterations and the validation
# peaked at 8.8 GB of memory, fp32 on CPU); validation on COCO-Stuff.
# catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384.py with another tower, SigLIP's normalisation
# and 768-dim class embeddings (SigLIP 2's text tower).
_base_ = ['./catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384.py', '../_base_/siglip_normalization.py']
# ---- paths to edit (data_root: ../_base_/catseg/coco-stuff171_384.py) --------------------
clip_pretrained = 'checkpoints/ViT-B-16-SigLIP2-384.safetensors'  # CLIP file or converted tower (start of training)
class_embeddings = 'data/catseg_text/vit-b16-siglip2-384_coco-stuff171.pth'  # tools/build_text_embeddings.py
# ------------------------------------------------------------------------------------------
model = dict(data_preprocessor=dict(mean=_base_.siglip_mean, std=_base_.siglip_std),
             backbone=dict(clip_model='ViT-B-16-SigLIP2-384', pretrained=clip_pretrained),
             decode_head=dict(text_dim=768, class_embeddings=class_embeddings))
