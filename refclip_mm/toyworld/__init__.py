"""ToyWorld: a CPU-scale world in which the method's claims are measured (docs/toyworld.md)."""
from .evaluate import (EvalSet, evaluate_tower, load_eval_set, mean_std, ov_seg_miou,
                       region_top1, unsupervised_seg_miou, zero_shot_accuracy)

__all__ = ['EvalSet', 'evaluate_tower', 'load_eval_set', 'mean_std', 'ov_seg_miou',
           'region_top1', 'unsupervised_seg_miou', 'zero_shot_accuracy']
