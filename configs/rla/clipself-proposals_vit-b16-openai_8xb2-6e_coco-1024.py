# Stage 2, RLA only: clipself-proposals fine-tuning of ViT-B-16-quickgelu
# (docs/method.md section 5).
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s), about 3 GB each: an
# estimate from the R-SC-RLA step measured at 448 px (peak 1.9 GB on the CPU, gradient
# checkpointing on; benchmarks/bench_memory_switches.py) with the activations scaled to
# 1024 px (5.2x the tokens); RLA and SC-RLA run no teacher forward or Refiner on top.
# Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = [
    '../_base_/models/rla_vit-b16-openai.py',
    '../_base_/datasets/coco_rla_proposals_1024.py',
    '../_base_/schedules/rla_6e.py',
    '../_base_/default_runtime_rla.py',
]
# proposal_file (the region proposals): ../_base_/datasets/coco_rla_proposals_1024.py
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained, loss_rla=dict(type='CLIPSelfLoss'), crop_enlarge=1.5)
