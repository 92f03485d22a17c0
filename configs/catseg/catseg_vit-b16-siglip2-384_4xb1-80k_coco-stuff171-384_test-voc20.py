# Test the COCO-Stuff-trained Cat-Seg SigLIP 2 ViT-B/16 ('ViT-B-16-SigLIP2-384') on voc20:
#   mim test refclip_mm configs/catseg/catseg_vit-b16-siglip2-384_4xb1-80k_coco-stuff171-384_test-voc20.py \
#       --checkpoint work_dirs/catseg_vit-b16-siglip2-384_4xb1-80k_coco-stuff171-384/iter_80000.pth
# catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384_test-voc20.py with the tower, normalisation and
# 768-dim text side of catseg_vit-b16-siglip2-384_4xb1-80k_coco-stuff171-384.py (restated here:
# that config and the evaluation set's base both define the data, so one config cannot inherit
# both) and its test class embeddings, built with SigLIP 2's text tower.
# The tower is read from the checkpoint (no CLIP file needed).
_base_ = ['./catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384_test-voc20.py',
          '../_base_/siglip_normalization.py']
# ---- paths to edit (data_root: ../_base_/catseg/eval_voc21.py) ---------------------------
test_class_embeddings = 'data/catseg_text/vit-b16-siglip2-384_voc20.pth'  # tools/build_text_embeddings.py
# ------------------------------------------------------------------------------------------
model = dict(data_preprocessor=dict(mean=_base_.siglip_mean, std=_base_.siglip_std),
             backbone=dict(clip_model='ViT-B-16-SigLIP2-384'),
             decode_head=dict(text_dim=768, test_class_embeddings=test_class_embeddings))
