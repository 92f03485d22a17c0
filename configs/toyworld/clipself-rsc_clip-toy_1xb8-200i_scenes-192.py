# ToyWorld R-SC-RLA: CLIPSelf + SCD from the initial tower followed by the stage-1 Refiner
# (configs/toyworld/refiner_clip-toy_1xb16-200i_scenes-128.py, exported by tools/export_refiner.py).
_base_ = ['./clipself_clip-toy_1xb8-200i_scenes-192.py']
custom_hooks = [
    dict(type='SCDDistillHook', refiner='work_dirs/toyworld/refiner_seed0.pth', level='region',
         grid_size=4, tau=0.2, loss_weight=0.4, start_ratio=0.1),
]
