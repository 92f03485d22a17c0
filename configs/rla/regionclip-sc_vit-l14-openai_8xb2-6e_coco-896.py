# SC-RLA: regionclip + Spatial Correlation Distillation from the frozen initial tower.
# Paths: those of regionclip_vit-l14-openai_8xb2-6e_coco-896.py (no path of its own).
_base_ = ['./regionclip_vit-l14-openai_8xb2-6e_coco-896.py', '../_base_/scd_hook.py']
custom_hooks = [_base_.scd_hook]
