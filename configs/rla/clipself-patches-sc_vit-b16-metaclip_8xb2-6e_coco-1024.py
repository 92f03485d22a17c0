# SC-RLA: clipself-patches + Spatial Correlation Distillation from the frozen initial tower.
# Paths: those of clipself-patches_vit-b16-metaclip_8xb2-6e_coco-1024.py (no path of its own).
_base_ = ['./clipself-patches_vit-b16-metaclip_8xb2-6e_coco-1024.py', '../_base_/scd_hook.py']
custom_hooks = [_base_.scd_hook]
