# Cat-Seg-style open-vocabulary segmentation, CLIP ViT-B/16 (OpenAI weights), trained on
# COCO-Stuff-171 at 384 px (batch 4 = 4 GPUs x 1, 80k iterations); validation on COCO-Stuff.
# Evaluate on other vocabularies with the *_test-<dataset>.py configs of the same name.
# Assumes 4 GPUs x 1 image (Cat-Seg's batch of 4) and GPUs of 12 GB or more: an
# estimate, not measured (the tower's attention layers are trained; the cost volume
# covers 171 classes). Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = [
    '../_base_/catseg/catseg_vit-b16.py',
    '../_base_/catseg/coco-stuff171_384.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/catseg/schedule_80k.py',
]
# ---- paths to edit (data_root: ../_base_/catseg/coco-stuff171_384.py) --------------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP file or converted tower (start of training)
class_embeddings = 'data/catseg_text/vit-b16-openai_coco-stuff171.pth'  # tools/build_text_embeddings.py
# ------------------------------------------------------------------------------------------
model = dict(backbone=dict(pretrained=clip_pretrained),
             decode_head=dict(class_embeddings=class_embeddings))
# the total batch the learning rate is set for (tools/train.py --auto-scale-lr scales it to yours)
auto_scale_lr = dict(enable=False, base_batch_size=4)
