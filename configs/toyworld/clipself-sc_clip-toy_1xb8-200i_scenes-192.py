# ToyWorld SC-RLA: CLIPSelf + SCD from the frozen initial (stage-0) tower, region-level on a 4 x 4
# grid.
_base_ = ['./clipself_clip-toy_1xb8-200i_scenes-192.py', '../_base_/scd_hook.py']
scd_hook = dict(_base_.scd_hook, grid_size=4)
custom_hooks = [scd_hook]
