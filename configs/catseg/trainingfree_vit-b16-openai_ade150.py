# Training-free open-vocabulary segmentation of a CLIP ViT-B/16 tower on ade150 (no training):
#   mim test refclip_mm configs/catseg/<this file> --cfg-options model.backbone.pretrained=<tower file>
_base_ = [
    '../_base_/catseg/trainingfree_vit-b16.py',
    '../_base_/catseg/eval_ade150.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(decode_head=dict(test_class_embeddings='data/catseg_text/vit-b16-openai_ade150.pth'))
