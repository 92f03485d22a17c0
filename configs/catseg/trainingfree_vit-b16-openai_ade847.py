# Training-free open-vocabulary segmentation of a CLIP ViT-B/16 tower on ade847 (no training).
# The model has no trained parameters; the test tools still want a checkpoint, so give an
# empty one (the tower weights come from clip_pretrained):
#   python -c "import torch; torch.save({'state_dict': {}}, 'work_dirs/empty.pth')"
#   mim test refclip_mm configs/catseg/trainingfree_vit-b16-openai_ade847.py --checkpoint work_dirs/empty.pth
_base_ = [
    '../_base_/catseg/trainingfree_vit-b16.py',
    '../_base_/catseg/eval_ade847.py',
    '../_base_/default_runtime_seg.py',
]
# ---- paths to edit (data_root: ../_base_/catseg/eval_ade847.py) --------------------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP file or stage-2 checkpoint (student)
test_class_embeddings = 'data/catseg_text/vit-b16-openai_ade847.pth'  # build_text_embeddings.py
# ------------------------------------------------------------------------------------------
model = dict(backbone=dict(pretrained=clip_pretrained),
             decode_head=dict(test_class_embeddings=test_class_embeddings))
