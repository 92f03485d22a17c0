"""Functions over configs: train, test, short runs, schedules, checkpoints.

``tools/train.py`` and ``tools/test.py`` are command lines over these; the demo
(:mod:`refclip_mm.apis.demo`) and the ToyWorld pipeline (:mod:`refclip_mm.toyworld`) call them.
Open-vocabulary inference on one's own images and words is :mod:`refclip_mm.apis.inference`
(imported on its own: it loads mmdet's and mmseg's inferencers).
"""
from .runs import (configure_training, fit_schedule, last_checkpoint, load_config, ov_ap50,
                   scene_detector_options, set_hook_options, test, train, train_then_test)
from .stage_line import StageLine

__all__ = ['configure_training', 'fit_schedule', 'last_checkpoint', 'load_config', 'ov_ap50',
           'scene_detector_options', 'set_hook_options', 'test', 'train', 'train_then_test',
           'StageLine']
