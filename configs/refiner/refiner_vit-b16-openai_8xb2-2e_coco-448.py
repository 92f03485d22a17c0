# Stage 1: train a Refiner on a frozen OpenAI CLIP ViT-B/16 (docs/method.md section 4 defaults),
# 8 GPUs x 2 images = batch 16, 2 epochs of COCO train2017 images at 448 px.
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s) and GPUs of 8 GB or more:
# an estimate, not measured at this size (the frozen tower runs without autograd, the
# Refiner has two blocks). Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = [
    '../_base_/datasets/coco_unlabeled_448.py',
    '../_base_/schedules/refiner_2e.py',
    '../_base_/default_runtime.py',
]
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'ViT-B-16-quickgelu'  # OpenAI weights use QuickGELU
model = dict(
    type='RefinerTrainer',
    clip_model=clip_model,
    pretrained=clip_pretrained,
    dense_mode='value',
    refiner=dict(type='Refiner', depth=2, num_heads=8, mlp_ratio=4.0),
    token_space='projected',
    num_boxes=3,
    area_range=(0.25, 0.5),
    aspect_range=(2 / 3, 3 / 2),
    grid_size=14,
    # per-token cosine (docs/method.md section 9); the InfoNCE of docs/method.md section 4.3:
    # loss_dense=dict(type='DenseInfoNCELoss', tau=0.2)
    loss_dense=dict(type='DenseCosineLoss'),
    loss_scd=dict(type='SCDLoss', tau=0.2, loss_weight=0.4),
    filter_contaminants=False)
