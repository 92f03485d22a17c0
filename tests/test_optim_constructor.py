"""FrozenSummaryOptimWrapperConstructor: the same optimizer as mmengine's default constructor,
one log line for the frozen parameters instead of one warning each."""
import logging

import torch
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from refclip_mm.engine import FrozenSummaryOptimWrapperConstructor
from refclip_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS

OPTIM = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01))
PARAMWISE = dict(custom_keys={'backbone': dict(lr_mult=0.1)})


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def model_with_frozen_tower():
    torch.manual_seed(0)
    model = nn.Module()
    model.backbone = nn.Module()
    model.backbone.tower = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 4))
    model.backbone.adapter = nn.Linear(4, 4)
    model.head = nn.Linear(4, 2)
    model.backbone.tower.requires_grad_(False)
    return model


def build(constructor_cls, model):
    logger = MMLogger.get_instance('test_optim_constructor', log_level='DEBUG')
    recorder = Recorder()
    logger.addHandler(recorder)
    try:
        wrapper = constructor_cls(OPTIM, PARAMWISE)(model)
    finally:
        logger.removeHandler(recorder)
    return wrapper, recorder.messages


def test_same_optimizer_one_line():
    model = model_with_frozen_tower()
    theirs, their_log = build(DefaultOptimWrapperConstructor, model)
    ours, our_log = build(FrozenSummaryOptimWrapperConstructor, model)
    assert sum('requires_grad=False' in m for m in their_log) == 6  # one per frozen tensor
    assert not [m for m in our_log if 'is skipped since' in m]
    summary = [m for m in our_log if 'frozen parameters' in m]
    assert summary == ['optimizer: 6 frozen parameters (requires_grad=False) are not optimised: '
                       'backbone.tower.0 (2), backbone.tower.1 (2), backbone.tower.2 (2)']
    groups = [(tuple(map(id, g['params'])), g['lr'], g['weight_decay'])
              for g in theirs.optimizer.param_groups]
    assert groups == [(tuple(map(id, g['params'])), g['lr'], g['weight_decay'])
                      for g in ours.optimizer.param_groups]
    assert {g['lr'] for g in ours.optimizer.param_groups} == {1e-3, 1e-4}
    # the filter is gone afterwards: other warnings still reach the log
    assert not MMLogger.get_current_instance().filters


def test_found_by_name_in_every_scope():
    from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMDET
    from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG
    for registry in (OPTIM_WRAPPER_CONSTRUCTORS, MMDET, MMSEG):
        assert registry.get('FrozenSummaryOptimWrapperConstructor') is \
            FrozenSummaryOptimWrapperConstructor
