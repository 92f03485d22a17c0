# R-SC-RLA: clipself-proposals + SCD from the frozen initial tower followed by the stage-1 Refiner
# (tools/export_refiner.py output of the matching configs/refiner/ run).
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s), about 3 GB each: an
# estimate from the R-SC-RLA step measured at 448 px (peak 1.9 GB on the CPU, gradient
# checkpointing on; benchmarks/bench_memory_switches.py) with the activations scaled to
# 1024 px (5.2x the tokens); RLA and SC-RLA run no teacher forward or Refiner on top.
# Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./clipself-proposals-sc_vit-b16-openai_8xb2-6e_coco-1024.py']
# ---- paths to edit (the others: clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py) ---
refiner_file = 'checkpoints/refiner_vit-b16-openai.pth'  # tools/export_refiner.py
# ------------------------------------------------------------------------------------------
custom_hooks = [dict(_base_.scd_hook, refiner_file=refiner_file)]
