# R-SC-RLA: clipself-patches + SCD from the frozen initial tower followed by the stage-1 Refiner
# (tools/export_refiner.py output of the matching configs/refiner/ run).
_base_ = ['./clipself-patches-sc_vit-l14-metaclip_8xb2-6e_coco-896.py']
# ---- paths to edit (the others: clipself-patches_vit-l14-metaclip_8xb2-6e_coco-896.py) ---
refiner_file = 'checkpoints/refiner_vit-l14-metaclip.pth'  # tools/export_refiner.py
# ------------------------------------------------------------------------------------------
custom_hooks = [dict(_base_.scd_hook, refiner_file=refiner_file)]
