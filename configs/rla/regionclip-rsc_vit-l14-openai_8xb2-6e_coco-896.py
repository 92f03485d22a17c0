# R-SC-RLA: regionclip + SCD from the frozen initial tower followed by the stage-1 Refiner
# (tools/export_refiner.py output of the matching configs/refiner/ run).
_base_ = ['./regionclip_vit-l14-openai_8xb2-6e_coco-896.py']
refiner_file = 'checkpoints/refiner_vit-l14-openai.pth'
custom_hooks = [
    dict(type='SCDDistillHook', refiner=refiner_file, level='region', grid_size=14,
         tau=0.2, loss_weight=0.4, start_ratio=0.1),
]
