"""A hook that SIGKILLs its own training process at a given iteration (fault-injection tests)."""
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillAtIterationHook(Hook):
    """Send SIGKILL to this process before iteration ``iteration`` (1-based) runs."""

    def __init__(self, iteration: int):
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)
