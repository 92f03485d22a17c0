"""What the running mmengine Runner makes known to code that holds no reference to it."""
from typing import Optional


def current_iteration() -> Optional[int]:
    """The training iteration the running mmengine Runner is at (``None`` outside a Runner)."""
    from mmengine.logging import MessageHub
    iteration = MessageHub.get_current_instance().get_info('iter')
    return None if iteration is None else int(iteration)
