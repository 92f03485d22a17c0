"""Check that every DDP rank holds the same weights."""
import torch
from mmengine.dist import all_gather, get_world_size, is_distributed
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..registry import HOOKS


@HOOKS.register_module()
class RankConsistencyHook(Hook):
    """Every ``interval`` iterations and at the end, compare weight fingerprints across ranks.

    Each rank computes ``(sum, sum of squares)`` of its trainable parameters in
    float64; the hook gathers them and raises ``RuntimeError`` naming the ranks
    when they differ by more than ``tolerance`` (relative). Catches silent
    desynchronisation (a rank skipping a step, unsynchronised buffers) in long
    multi-node runs. A no-op without distributed training.

    Args:
        interval: check every this many iterations (and after training).
        tolerance: allowed relative difference of the fingerprints.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 1000, tolerance: float = 1e-6):
        self.interval = interval
        self.tolerance = tolerance

    def _fingerprint(self, runner) -> torch.Tensor:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        params = [p.detach().double() for p in model.parameters() if p.requires_grad]
        return torch.stack([sum(p.sum() for p in params), sum((p * p).sum() for p in params)])

    def check(self, runner) -> None:
        if not is_distributed():
            return
        device = next(runner.model.parameters()).device
        prints = all_gather(self._fingerprint(runner).to(device))
        reference = prints[0]
        bad = [rank for rank, fp in enumerate(prints)
               if not torch.allclose(fp, reference, rtol=self.tolerance, atol=0.0)]
        if bad:
            raise RuntimeError(f'weights of ranks {bad} differ from rank 0 at iteration '
                               f'{runner.iter}: fingerprints {[p.tolist() for p in prints]}')
        print_log(f'all {get_world_size()} ranks agree at iteration {runner.iter} '
                  f'(fingerprint {reference.tolist()})', logger='current')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self.check(runner)

    def after_train(self, runner) -> None:
        self.check(runner)
