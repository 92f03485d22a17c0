# SC-RLA: clipself-proposals + Spatial Correlation Distillation from the frozen initial tower.
# Paths: those of clipself-proposals_vit-b16-siglip2-384_8xb2-6e_coco-1024.py (no path of its own).
# Assumes 8 GPUs x 2 images and the GB per GPU that
# clipself-patches_vit-b16-siglip2-384_8xb2-6e_coco-1024.py states
# (an estimate; SCD adds a frozen teacher forward and a small Refiner).
_base_ = ['./clipself-proposals_vit-b16-siglip2-384_8xb2-6e_coco-1024.py', '../_base_/scd_hook.py']
custom_hooks = [_base_.scd_hook]
