# Test the COCO-Stuff-trained Cat-Seg ViT-B/16 on ade847:
#   mim test refclip_mm configs/catseg/catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384_test-ade847.py \
#       --checkpoint work_dirs/catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384/iter_80000.pth
# The tower is read from the checkpoint (no CLIP file needed). The test class embeddings are
# built for this dataset's classes with the same CLIP model.
_base_ = [
    '../_base_/catseg/catseg_vit-b16.py',
    '../_base_/catseg/eval_ade847.py',
    '../_base_/default_runtime_seg.py',
]
# ---- paths to edit (data_root: ../_base_/catseg/eval_ade847.py) --------------------------
test_class_embeddings = 'data/catseg_text/vit-b16-openai_ade847.pth'  # tools/build_text_embeddings.py
# ------------------------------------------------------------------------------------------
model = dict(decode_head=dict(test_class_embeddings=test_class_embeddings))
