# Cat-Seg-style open-vocabulary segmentation, CLIP ViT-L/14 (OpenAI weights), trained on
# COCO-Stuff-171 at 384 px (batch 4 = 4 GPUs x 1, 80k iterations); validation on COCO-Stuff.
# Evaluate on other vocabularies with the *_test-<dataset>.py configs of the same name.
_base_ = [
    '../_base_/catseg/catseg_vit-l14.py',
    '../_base_/catseg/coco-stuff171_384.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/catseg/schedule_80k.py',
]
