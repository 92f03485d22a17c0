# Test the COCO-Stuff-trained Cat-Seg ViT-L/14 on pc59:
#   mim test refclip_mm configs/catseg/catseg_vit-l14-openai_4xb1-80k_coco-stuff171-384_test-pc59.py \
#       --checkpoint work_dirs/catseg_vit-l14-openai_4xb1-80k_coco-stuff171-384/iter_80000.pth
# catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384_test-pc59.py with the L/14 tower
# (_base_/catseg/catseg_vit-l14.py) and its test class embeddings.
_base_ = ['./catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384_test-pc59.py',
          '../_base_/catseg/catseg_vit-l14.py']
# ---- paths to edit (data_root: ../_base_/catseg/eval_pc59.py) ----------------------------
test_class_embeddings = 'data/catseg_text/vit-l14-openai_pc59.pth'  # tools/build_text_embeddings.py
# ------------------------------------------------------------------------------------------
model = dict(backbone=_base_.catseg_vit_l14.backbone,
             decode_head=dict(_base_.catseg_vit_l14.decode_head,
                              test_class_embeddings=test_class_embeddings))
