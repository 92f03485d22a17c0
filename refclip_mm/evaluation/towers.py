"""Towers named on the command line of the dense-quality tools.

A tower item is ``[NAME=]SOURCE[@WEIGHTS][#ATTR]``:

* ``SOURCE``: ``tiny-openai`` / ``tiny-eva`` / ``tiny-siglip2`` (the test architectures of
  :mod:`refclip_mm.clip.tiny`), an open_clip model name (``ViT-B-16``,
  ``EVA02-B-16``, ...), or an mmengine config file (``*.py``) whose
  ``dense_tower`` (else ``model``) entry is built with the MODELS registry in
  the config's ``default_scope`` (RefinerBackbone, a stage-1/2 model, a
  ``CLIPViT`` backbone, a whole segmentor, ...);
* ``WEIGHTS``: a local checkpoint (CLIP weights of any format
  :func:`refclip_mm.clip.build_clip` reads, or, for configs, a checkpoint of
  the built model, loaded strictly) or ``random`` (random initialisation,
  seeded). Open_clip names need it spelled out; tiny towers default to random;
* ``ATTR``: dotted path of the sub-module giving the dense map (configs only;
  default: the model, else its ``backbone``; see
  :mod:`refclip_mm.models.dense_source`).

``NAME`` labels the tower in tables and panels (default: ``SOURCE``).
Examples: ``clip=ViT-B-16@/ckpt/openai.pt``, ``ours=configs/rla/x.py@work_dirs/x/iter_6000.pth#student``.

Every tower's ``fn`` takes CLIP-normalised images (:func:`normalize_images`); a tower whose
weights expect another normalisation (SigLIP / SigLIP 2: mean = std = 0.5) converts them to it
first (:func:`renormalized`), so the towers of one table see the same pixels.
"""
import os.path as osp
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..datasets.transforms import CLIP_MEAN, CLIP_STD
from ..models.dense_source import DenseFn, find_dense_fn

TINY_TOWERS = ('tiny-openai', 'tiny-eva', 'tiny-siglip2')


@dataclass
class TowerSpec:
    """A parsed tower item (see the module docstring)."""
    name: str
    source: str
    weights: Optional[str] = None
    attr: Optional[str] = None


@dataclass
class DenseTower:
    """A built tower: ``fn(images B x 3 x H x W) -> B x D x h x w`` (CLIP-normalised images,
    see the module docstring) and the module behind it."""
    name: str
    module: nn.Module
    fn: DenseFn
    spec: TowerSpec


def parse_tower(item: str) -> TowerSpec:
    """Parse ``[NAME=]SOURCE[@WEIGHTS][#ATTR]``."""
    name, sep, rest = item.partition('=')
    if not sep:
        name, rest = '', item
    rest, _, attr = rest.partition('#')
    source, _, weights = rest.partition('@')
    if not source:
        raise ValueError(f'tower {item!r} has no source; write NAME=SOURCE[@WEIGHTS][#ATTR], e.g. '
                         'clip=ViT-B-16@/path/to/openai.pt')
    return TowerSpec(name=name or source, source=source, weights=weights or None,
                     attr=attr or None)


def _weights(spec: TowerSpec) -> Optional[str]:
    if spec.weights in (None, 'random'):
        return None
    if not osp.isfile(spec.weights):
        raise FileNotFoundError(f'weights of tower {spec.name!r} not found: {spec.weights}')
    return spec.weights


def image_normalization(module: nn.Module) -> Optional[Tuple[Tuple[float, ...], Tuple[float, ...]]]:
    """``(mean, std)`` (RGB, 0-255) that the CLIP image tower in ``module`` expects when it is not
    OpenAI CLIP's (a SigLIP tower's), else ``None``. Frozen towers (``FrozenModule``, outside the
    module tree) are searched too."""
    from ..clip import DenseCLIPTower
    from ..models.frozen import FrozenModule
    stack = [module]
    while stack:
        current = stack.pop()
        for sub in current.modules():
            if isinstance(sub, DenseCLIPTower) and sub.image_mean is not None:
                return tuple(sub.image_mean), tuple(sub.image_std)
            stack.extend(v.module for v in vars(sub).values() if isinstance(v, FrozenModule))
    return None


def renormalized(fn: DenseFn, mean: Sequence[float], std: Sequence[float]) -> DenseFn:
    """``fn`` (images normalised with ``mean`` / ``std``, RGB 0-255) fed CLIP-normalised images:
    ``x * CLIP_STD / std + (CLIP_MEAN - mean) / std`` per channel."""
    mean_t, std_t = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    scale = torch.tensor(CLIP_STD).view(1, 3, 1, 1) / std_t
    shift = (torch.tensor(CLIP_MEAN).view(1, 3, 1, 1) - mean_t) / std_t

    def run(images: torch.Tensor) -> torch.Tensor:
        return fn(images * scale.to(images) + shift.to(images))
    return run


def _dense_tower(spec: TowerSpec, module: nn.Module, fn: DenseFn) -> DenseTower:
    norm = image_normalization(module)
    return DenseTower(spec.name, module, fn if norm is None else renormalized(fn, *norm), spec)


def build_dense_tower(spec: TowerSpec, mode: Optional[str] = None, seed: int = 0) -> DenseTower:
    """Build the tower of ``spec`` in eval mode (random parts seeded with ``seed``)."""
    from ..clip import build_image_tower, tiny_arch
    torch.manual_seed(seed)
    if spec.source.endswith('.py'):
        module = _build_from_config(spec)
        return _dense_tower(spec, module, find_dense_fn(module, spec.attr, mode))
    if spec.attr:
        raise ValueError(f'tower {spec.name!r}: #{spec.attr} only applies to config towers')
    if spec.source in TINY_TOWERS:
        arch = tiny_arch(spec.source.split('-', 1)[1])
        module = build_image_tower(arch, _weights(spec))
    else:
        if spec.weights is None:
            raise ValueError(f'tower {spec.name!r}: give the weights of {spec.source} as '
                             f'{spec.source}@/path/to/weights.pt, or {spec.source}@random for a '
                             'randomly initialised tower')
        module = build_image_tower(spec.source, _weights(spec))
    module.eval()
    return _dense_tower(spec, module, find_dense_fn(module, None, mode))


def _build_from_config(spec: TowerSpec) -> nn.Module:
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from ..registry import MODELS
    from ..utils.checkpoint import extract_state_dict, load_checkpoint_file, load_state_dict_checked
    if not osp.isfile(spec.source):
        raise FileNotFoundError(f'config of tower {spec.name!r} not found: {spec.source}')
    cfg = Config.fromfile(spec.source)
    model_cfg = cfg.get('dense_tower', None) or cfg.get('model', None)
    if model_cfg is None:
        raise ValueError(f'{spec.source} defines neither dense_tower nor model')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'refclip_mm')):
        module = MODELS.build(model_cfg)  # the config's scope, for this build only
    weights = _weights(spec)
    if weights is not None:
        state = extract_state_dict(load_checkpoint_file(weights))
        load_state_dict_checked(module, state, strict=True, source=repr(weights))
    return module.eval()


def normalize_images(images: np.ndarray) -> torch.Tensor:
    """``B x H x W x 3`` uint8 RGB -> ``B x 3 x H x W`` float32, CLIP-normalised
    (:data:`~refclip_mm.datasets.transforms.CLIP_MEAN` / ``CLIP_STD``, in 0-1 units here)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor([v / 255 for v in CLIP_MEAN]).view(1, 3, 1, 1)
    std = torch.tensor([v / 255 for v in CLIP_STD]).view(1, 3, 1, 1)
    return (x - mean) / std


def load_rgb(path: str, size: Optional[int] = None) -> np.ndarray:
    """Read an image as ``H x W x 3`` uint8 RGB, resized to ``size x size`` if given."""
    import mmcv
    image = mmcv.imread(path, channel_order='rgb')
    if image is None:
        raise FileNotFoundError(f'cannot read image {path}')
    if size is not None:
        image = mmcv.imresize(image, (size, size), interpolation='bicubic')
    return image


def size_for(tower: DenseTower, size: int) -> Tuple[int, int]:
    """``(size, size)``; raises if ``size`` is not a multiple of a CLIP tower's patch size."""
    patch = getattr(tower.module, 'patch_size', None)
    patch = getattr(getattr(tower.module, 'tower', None), 'patch_size', patch)
    if isinstance(patch, int) and size % patch:
        raise ValueError(f'--img-size {size} is not a multiple of the patch size {patch} of tower '
                         f'{tower.name!r}; use {size // patch * patch or patch} or '
                         f'{(size // patch + 1) * patch}')
    return size, size


@torch.no_grad()
def extract_dense_maps(tower: DenseTower, image_paths: Sequence[str], img_size: int,
                       batch_size: int = 8, device: str = 'cpu', progress: bool = True,
                       store_dtype: torch.dtype = torch.float16
                       ) -> Tuple[List[torch.Tensor], Dict[str, float]]:
    """Dense maps of images read from disk, resized to ``img_size x img_size``.

    Returns:
        per image a ``D x h x w`` map (CPU, ``store_dtype``) and the seconds spent
        reading images (``load``) and in the tower (``forward``).
    """
    from mmengine.utils import ProgressBar
    size_for(tower, img_size)
    tower.module.to(device)
    maps: List[torch.Tensor] = []
    timings = dict(load=0.0, forward=0.0)
    bar = ProgressBar(len(image_paths)) if progress else None
    for start in range(0, len(image_paths), batch_size):
        paths = image_paths[start:start + batch_size]
        t0 = time.perf_counter()
        images = normalize_images(np.stack([load_rgb(p, img_size) for p in paths])).to(device)
        t1 = time.perf_counter()
        dense = tower.fn(images)
        maps.extend(d.to('cpu', store_dtype) for d in dense)
        t2 = time.perf_counter()
        timings['load'] += t1 - t0
        timings['forward'] += t2 - t1
        if bar is not None:
            for _ in paths:
                bar.update()
    if bar is not None:
        print()
    return maps, timings
