# ToyWorld SC-RLA: CLIPSelf + SCD from the frozen initial (stage-0) tower.
_base_ = ['./clipself_clip-toy_1xb8-200i_scenes-192.py']
custom_hooks = [
    dict(type='SCDDistillHook', refiner=None, level='region', grid_size=4, tau=0.2,
         loss_weight=0.4, start_ratio=0.1),
]
