"""An optimizer-wrapper constructor that reports frozen parameters once, not once each.

With a ``paramwise_cfg``, mmengine's ``DefaultOptimWrapperConstructor`` logs one warning per
parameter that does not require gradients ("... is skipped since its requires_grad=False"):
a frozen CLIP tower gives a hundred or more such lines at every start, for what is the
intended set-up. :class:`FrozenSummaryOptimWrapperConstructor` builds exactly the same
optimizer and writes one line instead: how many parameters are frozen and under which
modules. Use it in a config as
``optim_wrapper = dict(constructor='FrozenSummaryOptimWrapperConstructor', ...)``.
"""
import logging
from collections import Counter
from typing import List

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import nn

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS
from ..utils.quiet_log import dropped_log_messages

FROZEN_MESSAGE = 'is skipped since its requires_grad=False'


def frozen_summary(names: List[str], depth: int = 3) -> str:
    """``'backbone.tower.visual (104), ...'``: frozen parameter names counted under their first
    ``depth`` name parts, largest first."""
    counts = Counter('.'.join(name.split('.')[:depth]) for name in names)
    return ', '.join(f'{prefix} ({count})' for prefix, count in counts.most_common())


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FrozenSummaryOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` (same arguments, same optimizer) that logs the frozen
    parameters in one summary line instead of one warning per parameter."""

    def __call__(self, model: nn.Module) -> OptimWrapper:
        frozen = [name for name, param in model.named_parameters() if not param.requires_grad]
        with dropped_log_messages(FROZEN_MESSAGE):
            wrapper = super().__call__(model)
        if frozen:
            print_log(f'optimizer: {len(frozen)} frozen parameters (requires_grad=False) are not '
                      f'optimised: {frozen_summary(frozen)}', logger='current', level=logging.INFO)
        return wrapper
