"""ToyWorld: a CPU-scale world in which the method's claims are measured (docs/toyworld.md).

:mod:`.evaluate` holds the training-free measurements of a tower; :mod:`.pipeline` the whole
experiment (:func:`run_toyworld`); :mod:`.report` its tables and pre-registered decisions.
"""
from .evaluate import (EvalSet, evaluate_tower, load_eval_set, mean_std, ov_seg_miou, region_top1,
                       unsupervised_seg_miou, zero_shot_accuracy)
from .pipeline import FULL, METHODS, QUICK, Protocol, run_toyworld

__all__ = ['EvalSet', 'evaluate_tower', 'load_eval_set', 'mean_std', 'ov_seg_miou',
           'region_top1', 'unsupervised_seg_miou', 'zero_shot_accuracy', 'FULL', 'METHODS',
           'QUICK', 'Protocol', 'run_toyworld']
