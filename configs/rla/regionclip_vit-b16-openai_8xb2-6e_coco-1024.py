# Stage 2, RLA only: regionclip fine-tuning of ViT-B-16-quickgelu (docs/method.md section 5).
_base_ = [
    '../_base_/models/rla_vit-b16-openai.py',
    '../_base_/datasets/coco_rla_patches_1024.py',
    '../_base_/schedules/rla_6e.py',
    '../_base_/default_runtime_rla.py',
]
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP weight file (docs/towers.md)
concepts = 'data/coco/annotations/concepts_train2017_vit-b16-openai.pth'  # build_concepts.py + build_text_embeddings.py
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained, loss_rla=dict(type='RegionCLIPLoss'), concepts=concepts)
