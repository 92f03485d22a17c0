# mmseg runtime for refclip_mm segmentors: mmseg's scope, refclip_mm imported like any plugin.
default_scope = 'mmseg'
custom_imports = dict(imports=['refclip_mm'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
# no fixed name: each Runner gets its own visualizer (named after the run)
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
