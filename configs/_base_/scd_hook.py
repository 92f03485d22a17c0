# Spatial Correlation Distillation in stage 2 (docs/method.md sections 3 and 5.4 defaults): SC-RLA
# configs add custom_hooks = [_base_.scd_hook]; R-SC-RLA configs give the stage-1 Refiner file:
# custom_hooks = [dict(_base_.scd_hook, refiner_file=refiner_file)].
scd_hook = dict(type='SCDDistillHook', refiner_file=None, level='region', grid_size=14, tau=0.2,
                loss_weight=0.4, start_ratio=0.1)
