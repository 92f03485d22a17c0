# SC-RLA: clipself-patches + Spatial Correlation Distillation from the frozen initial tower.
# Paths: those of clipself-patches_eva02-b16_8xb2-6e_coco-1024.py (no path of its own).
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s), about 3 GB each: an
# estimate from the R-SC-RLA step measured at 448 px (peak 1.9 GB on the CPU, gradient
# checkpointing on; benchmarks/bench_memory_switches.py) with the activations scaled to
# 1024 px (5.2x the tokens); RLA and SC-RLA run no teacher forward or Refiner on top. EVA02-B/16 has the size of ViT-B/16.
# Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./clipself-patches_eva02-b16_8xb2-6e_coco-1024.py', '../_base_/scd_hook.py']
custom_hooks = [_base_.scd_hook]
