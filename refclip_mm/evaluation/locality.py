"""Locality ("contamination") index of dense features: how far a local change travels.

Two images differ in exactly one region (an object swapped or removed, or a patch pasted from
another image). For each tower the dense tokens of both images are compared: ``near`` tokens
overlap the changed region, ``far`` tokens are at least ``min_distance`` tokens away from every
near token (Chebyshev distance on the token grid). With the change of a token measured as
``1 - cos(f_a, f_b)``,

    locality index = mean change of far tokens / mean change of near tokens

over all pairs (ratio of means). 0: a change stays where it happened (a per-patch feature);
about 1: every token changes as much as the changed ones (a globally pooled feature). This is
what a Refiner is meant to lower: CLIP tokens that carry content from far away.
"""
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

# one pair: (dense map of image a, dense map of image b, changed-pixel mask H x W)
FeaturePair = Tuple[torch.Tensor, torch.Tensor, np.ndarray]


@dataclass
class LocalityResult:
    """Locality index of one tower over a set of pairs.

    Attributes:
        index: mean far change / mean near change (see the module docstring).
        near_change / far_change: mean ``1 - cos`` of near / far tokens over all pairs.
        per_pair: the far/near ratio of every pair (for intervals over pairs).
        num_pairs: pairs used (pairs without near or far tokens are not usable and raise).
    """
    index: float
    near_change: float
    far_change: float
    per_pair: List[float] = field(default_factory=list)
    num_pairs: int = 0

    def as_dict(self):
        return dict(locality=self.index, near_change=self.near_change,
                    far_change=self.far_change, num_pairs=self.num_pairs)


def token_mask(mask: np.ndarray, grid: Sequence[int]) -> torch.Tensor:
    """``H x W`` bool pixel mask -> ``h x w`` bool: tokens whose cell holds a masked pixel."""
    m = torch.as_tensor(np.asarray(mask, dtype=np.float32))[None, None]
    return F.adaptive_max_pool2d(m, tuple(int(g) for g in grid))[0, 0] > 0


def far_tokens(near: torch.Tensor, min_distance: int) -> torch.Tensor:
    """``h x w`` bool: tokens at Chebyshev distance ``>= min_distance`` from every near token."""
    if min_distance < 1:
        raise ValueError(f'min_distance must be >= 1, got {min_distance}')
    size = 2 * min_distance - 1
    grown = F.max_pool2d(near.float()[None, None], size, stride=1, padding=min_distance - 1)
    return grown[0, 0] == 0


def token_change(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``D x h x w`` maps of two images -> ``h x w`` change ``1 - cos`` per token."""
    if a.shape != b.shape:
        raise ValueError(f'the two dense maps differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}')
    return 1 - F.cosine_similarity(a.float(), b.float(), dim=0)


def locality_index(pairs: Sequence[FeaturePair], min_distance: int = 2) -> LocalityResult:
    """Locality index over feature pairs (see the module docstring)."""
    if not pairs:
        raise ValueError('no pairs to measure')
    near_sum = far_sum = 0.0
    near_count = far_count = 0
    ratios = []
    for index, (a, b, mask) in enumerate(pairs):
        change = token_change(a, b)
        near = token_mask(mask, change.shape)
        far = far_tokens(near, min_distance)
        if not near.any() or not far.any():
            raise ValueError(f'pair {index}: the changed region covers {int(near.sum())} of '
                             f'{near.numel()} tokens and leaves {int(far.sum())} tokens at least '
                             f'{min_distance} tokens away; use a smaller region or a larger image')
        near_mean, far_mean = float(change[near].mean()), float(change[far].mean())
        near_sum += float(change[near].sum())
        far_sum += float(change[far].sum())
        near_count += int(near.sum())
        far_count += int(far.sum())
        ratios.append(far_mean / max(near_mean, 1e-12))
    near_change, far_change = near_sum / near_count, far_sum / far_count
    return LocalityResult(index=far_change / max(near_change, 1e-12), near_change=near_change,
                          far_change=far_change, per_pair=ratios, num_pairs=len(pairs))


def paste_pairs(images: Sequence[np.ndarray], num_pairs: int, side_range=(0.2, 0.35),
                seed: int = 0) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Copy-paste pairs from real images: ``(image, image with a pasted patch, patch mask)``.

    For each pair a random image receives a square patch (side a random fraction
    ``side_range`` of the image's shorter side) cut from another random image at
    the same size; the mask marks the pasted pixels. Seeded and deterministic.

    Args:
        images: ``H x W x 3`` uint8 images (at least 2, all the same size).
    """
    if len(images) < 2:
        raise ValueError('copy-paste pairs need at least 2 images')
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) != 1:
        raise ValueError(f'images must share one size (resize them first), got {sorted(shapes)}')
    rng = np.random.default_rng(seed)
    h, w = images[0].shape[:2]
    pairs = []
    for _ in range(num_pairs):
        target, source = rng.choice(len(images), size=2, replace=False)
        side = max(1, int(round(rng.uniform(*side_range) * min(h, w))))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        sy, sx = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        pasted = images[target].copy()
        pasted[y:y + side, x:x + side] = images[source][sy:sy + side, sx:sx + side]
        mask = np.zeros((h, w), bool)
        mask[y:y + side, x:x + side] = True
        pairs.append((images[target], pasted, mask))
    return pairs


def normalized_paste_pairs(images: Sequence[np.ndarray], num_pairs: int, seed: int = 0
                           ) -> List[Tuple[torch.Tensor, torch.Tensor, np.ndarray]]:
    """:func:`paste_pairs` of ``H x W x 3`` uint8 RGB images, as CLIP-normalised ``3 x H x W``
    tensors ready for :func:`tower_locality`."""
    from .towers import normalize_images
    return [(normalize_images(a[None])[0], normalize_images(b[None])[0], mask)
            for a, b, mask in paste_pairs(images, num_pairs, seed=seed)]


@torch.no_grad()
def tower_locality(dense_fn: Callable[[torch.Tensor], torch.Tensor],
                   image_pairs: Sequence[Tuple[torch.Tensor, torch.Tensor, np.ndarray]],
                   min_distance: int = 2, batch_size: int = 16,
                   device: Optional[str] = None) -> LocalityResult:
    """Locality index of a tower on image pairs.

    Args:
        dense_fn: ``B x 3 x H x W`` normalised images -> ``B x D x h x w`` dense maps.
        image_pairs: ``(image a, image b, changed mask H x W)`` with images as
            normalised ``3 x H x W`` tensors.
    """
    pairs = []
    for start in range(0, len(image_pairs), batch_size):
        chunk = image_pairs[start:start + batch_size]
        a = torch.stack([p[0] for p in chunk])
        b = torch.stack([p[1] for p in chunk])
        if device is not None:
            a, b = a.to(device), b.to(device)
        dense = dense_fn(torch.cat([a, b])).float().cpu()
        for i, (_, _, mask) in enumerate(chunk):
            pairs.append((dense[i], dense[len(chunk) + i], mask))
    return locality_index(pairs, min_distance)
