# R-SC-RLA: clipself-proposals + SCD from the frozen initial tower followed by the stage-1 Refiner
# (tools/export_refiner.py output of the matching configs/refiner/ run).
# Assumes 8 GPUs x 2 images and the GB per GPU that
# clipself-patches_vit-b16-siglip2-384_8xb2-6e_coco-1024.py states
# (an estimate; SCD adds a frozen teacher forward and a small Refiner).
_base_ = ['./clipself-proposals-sc_vit-b16-siglip2-384_8xb2-6e_coco-1024.py']
# ---- paths to edit (the others: clipself-proposals_vit-b16-siglip2-384_8xb2-6e_coco-1024.py)
refiner_file = 'checkpoints/refiner_vit-b16-siglip2-384.pth'  # tools/export_refiner.py
# ------------------------------------------------------------------------------------------
custom_hooks = [dict(_base_.scd_hook, refiner_file=refiner_file)]
