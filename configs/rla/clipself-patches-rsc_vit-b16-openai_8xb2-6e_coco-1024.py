# R-SC-RLA: clipself-patches + SCD from the frozen initial tower followed by the stage-1 Refiner
# (tools/export_refiner.py output of the matching configs/refiner/ run).
_base_ = ['./clipself-patches_vit-b16-openai_8xb2-6e_coco-1024.py']
refiner_file = 'checkpoints/refiner_vit-b16-openai.pth'
custom_hooks = [
    dict(type='SCDDistillHook', refiner=refiner_file, level='region', grid_size=14,
         tau=0.2, loss_weight=0.4, start_ratio=0.1),
]
