# Test the COCO-Stuff-trained Cat-Seg ViT-L/14 on voc21:
#   mim test refclip_mm configs/catseg/<this file> --checkpoint work_dirs/<train config>/iter_80000.pth
# The test class embeddings are built for this dataset's classes with the same CLIP model.
_base_ = [
    '../_base_/catseg/catseg_vit-l14.py',
    '../_base_/catseg/eval_voc21.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(decode_head=dict(
    class_embeddings=None,
    test_class_embeddings='data/catseg_text/vit-l14-openai_voc21.pth'))
