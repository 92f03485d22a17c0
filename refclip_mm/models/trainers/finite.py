"""Stop training on a non-finite loss before it reaches the weights."""
from typing import Dict, Tuple

import torch
from mmengine.logging import MessageHub


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite."""


class FiniteLossMixin:
    """For mmengine ``BaseModel`` subclasses: check every ``loss*`` term in ``parse_losses``.

    ``parse_losses`` runs inside ``train_step`` before ``backward`` and the
    optimizer step, so raising there leaves the weights (and the last saved
    checkpoint) untouched. The error names the term, its value and the
    iteration.
    """

    def parse_losses(self, losses: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        for name, value in losses.items():
            if 'loss' not in name:
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            if not all(torch.isfinite(v.detach()).all() for v in values):
                iteration = MessageHub.get_current_instance().get_info('iter')
                shown = [v.detach().float().mean().item() for v in values]
                raise NonFiniteLossError(
                    f'{name} is {shown[0] if len(shown) == 1 else shown} at iteration '
                    f'{iteration}; training stopped before the weights were updated (the last '
                    'checkpoint is intact). Lower the learning rate, check the inputs, or '
                    'resume from the last checkpoint.')
        return super().parse_losses(losses)
