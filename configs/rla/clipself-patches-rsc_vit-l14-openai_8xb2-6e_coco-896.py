# R-SC-RLA: clipself-patches + SCD from the frozen initial tower followed by the stage-1 Refiner
# (tools/export_refiner.py output of the matching configs/refiner/ run).
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s), about 9 GB each: an
# estimate, not measured: the ViT-B/16 estimate with 3.5x the parameters and 2.7x the
# activations gradient checkpointing keeps. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./clipself-patches-sc_vit-l14-openai_8xb2-6e_coco-896.py']
# ---- paths to edit (the others: clipself-patches_vit-l14-openai_8xb2-6e_coco-896.py) -----
refiner_file = 'checkpoints/refiner_vit-l14-openai.pth'  # tools/export_refiner.py
# ------------------------------------------------------------------------------------------
custom_hooks = [dict(_base_.scd_hook, refiner_file=refiner_file)]
