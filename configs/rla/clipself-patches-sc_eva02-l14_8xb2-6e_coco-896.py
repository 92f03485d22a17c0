# SC-RLA: clipself-patches + Spatial Correlation Distillation from the frozen initial tower.
# Paths: those of clipself-patches_eva02-l14_8xb2-6e_coco-896.py (no path of its own).
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s), about 9 GB each: an
# estimate, not measured: the ViT-B/16 estimate with 3.5x the parameters and 2.7x the
# activations gradient checkpointing keeps. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./clipself-patches_eva02-l14_8xb2-6e_coco-896.py', '../_base_/scd_hook.py']
custom_hooks = [_base_.scd_hook]
