# SC-RLA: clipself-proposals + Spatial Correlation Distillation from the frozen initial tower.
_base_ = ['./clipself-proposals_eva02-b16_8xb2-6e_coco-1024.py']
custom_hooks = [
    dict(type='SCDDistillHook', refiner=None, level='region', grid_size=14, tau=0.2,
         loss_weight=0.4, start_ratio=0.1),
]
