"""Make mmengine's PyTorch launcher work on CPU-only machines (gloo), as well as on GPUs."""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def prepare_cpu_distributed(cfg: Config) -> bool:
    """Adapt a distributed run to a machine without CUDA; a no-op elsewhere.

    mmengine 0.10's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``
    and its default DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both fail
    without a GPU. When ``cfg.launcher`` is ``pytorch`` and CUDA is not
    available, this initialises the process group with gloo itself (mmengine
    then skips its own initialisation) and configures the DDP wrapper
    without ``device_ids``.

    Returns:
        True if the run was adapted.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return False
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                      world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # CPU modules: DDP must not be given device ids
    cfg.model_wrapper_cfg = wrapper
    return True
