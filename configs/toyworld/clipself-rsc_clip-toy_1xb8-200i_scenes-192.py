# ToyWorld R-SC-RLA: CLIPSelf + SCD from the initial tower followed by the stage-1 Refiner
# (configs/toyworld/refiner_clip-toy_1xb16-200i_scenes-128.py, exported by tools/export_refiner.py).
# tools/toyworld.py sets the Refiner file of each seed; the one here is a placeholder.
_base_ = ['./clipself-sc_clip-toy_1xb8-200i_scenes-192.py']
custom_hooks = [dict(_base_.scd_hook, refiner_file='data/toyworld/refiner.pth')]
