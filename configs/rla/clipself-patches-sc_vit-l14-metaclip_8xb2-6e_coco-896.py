# SC-RLA: clipself-patches + Spatial Correlation Distillation from the frozen initial tower.
# Paths: those of clipself-patches_vit-l14-metaclip_8xb2-6e_coco-896.py (no path of its own).
# Assumes 8 GPUs x 2 images and the GB per GPU that
# clipself-patches_vit-l14-metaclip_8xb2-6e_coco-896.py states
# (an estimate; SCD adds a frozen teacher forward and a small Refiner).
_base_ = ['./clipself-patches_vit-l14-metaclip_8xb2-6e_coco-896.py', '../_base_/scd_hook.py']
custom_hooks = [_base_.scd_hook]
