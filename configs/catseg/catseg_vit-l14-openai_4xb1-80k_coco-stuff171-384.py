# Cat-Seg-style open-vocabulary segmentation, CLIP ViT-L/14 (OpenAI weights), trained on
# COCO-Stuff-171 at 384 px (batch 4 = 4 GPUs x 1, 80k iterations); validation on COCO-Stuff.
# catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384.py with the L/14 tower (_base_/catseg/catseg_vit-l14.py).
# Evaluate on other vocabularies with the *_test-<dataset>.py configs of the same name.
# Assumes 4 GPUs x 1 image and GPUs of 24 GB or more: an estimate, not measured (the
# ViT-B/16 estimate with a 3.5x larger tower). Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384.py', '../_base_/catseg/catseg_vit-l14.py']
# ---- paths to edit (data_root: ../_base_/catseg/coco-stuff171_384.py) --------------------
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'  # CLIP file or converted tower (start of training)
class_embeddings = 'data/catseg_text/vit-l14-openai_coco-stuff171.pth'  # tools/build_text_embeddings.py
# ------------------------------------------------------------------------------------------
model = dict(backbone=dict(_base_.catseg_vit_l14.backbone, pretrained=clip_pretrained),
             decode_head=dict(_base_.catseg_vit_l14.decode_head, class_embeddings=class_embeddings))
