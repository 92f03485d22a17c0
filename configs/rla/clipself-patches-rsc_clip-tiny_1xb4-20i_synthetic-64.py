# Tiny R-SC-RLA: the tiny CLIPSelf config + SCD from the initial tower followed by a Refiner
# trained with configs/refiner/refiner_clip-tiny_1xb4-40i_synthetic-64.py and exported with
# tools/export_refiner.py. Region-level SCD on a 4 x 4 grid (the tiny tower sees 8 x 8 tokens).
_base_ = ['./clipself-patches_clip-tiny_1xb4-20i_synthetic-64.py', '../_base_/scd_hook.py']
refiner_file = 'data/demo/refiner_tiny.pth'
custom_hooks = [dict(_base_.scd_hook, refiner_file=refiner_file, grid_size=4)]
