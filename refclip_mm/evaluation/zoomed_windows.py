"""The Refiner's target view, applied to a whole image.

Stage 1 (docs/method.md section 4) trains the Refiner to turn the full-view dense map of a box into
the dense map CLIP computes on the box alone, zoomed to the input size. :func:`zoomed_windows`
computes that target everywhere: it cuts the image into a grid of windows, zooms each window to
the image size, runs the dense function on it and pools the result back to the window's share of
the token grid. Measured like any tower, it says how good the features are that a Refiner can at
best learn, and so whether a world (or a dataset) has anything for a Refiner to recover.
"""
from typing import Optional

import torch
import torch.nn.functional as F

from ..models.dense_source import DenseFn


def zoomed_windows(fn: DenseFn, windows: int = 2, window_size: Optional[int] = None) -> DenseFn:
    """A dense function that runs ``fn`` on each of ``windows x windows`` zoomed windows.

    Args:
        fn: ``images (B x 3 x H x W) -> B x D x h x w`` dense maps.
        windows: windows per side ``k``; 1 gives ``fn`` itself.
        window_size: the side each window is resized to (default: the image's ``H x W``);
            e.g. the CLIP's native size, to show each window at the scale CLIP was trained on.

    Returns:
        ``images -> B x D x h x w``: window ``(i, j)`` (pixels ``H/k x W/k``) is resized
        (bilinear) to ``H x W`` (or ``window_size``), ``fn`` gives its map, and that map,
        resized (area) to ``h/k x w/k`` where ``h x w`` is the grid ``fn`` gives for the whole
        image, fills the window's tokens. ``H``, ``W``, ``h`` and ``w`` must be multiples of
        ``k``.
    """
    if not isinstance(windows, int) or windows < 1:
        raise ValueError(f'windows={windows!r} must be a positive integer')
    if windows == 1 and window_size is None:
        return fn

    def windowed(images: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = images.shape
        if height % windows or width % windows:
            raise ValueError(f'image size {height}x{width} is not divisible into '
                             f'{windows}x{windows} windows')
        crops = images.unflatten(2, (windows, height // windows)).unflatten(
            4, (windows, width // windows))                   # B x 3 x k x H/k x k x W/k
        crops = crops.permute(0, 2, 4, 1, 3, 5).flatten(0, 2)  # B*k*k x 3 x H/k x W/k
        out_h, out_w = (window_size, window_size) if window_size else (height, width)
        zoomed = F.interpolate(crops, size=(out_h, out_w), mode='bilinear', align_corners=False,
                               antialias=out_h < height // windows)
        dense = fn(zoomed)                                     # B*k*k x D x h' x w'
        # the whole image's token grid (the window's grid scaled by the window's zoom)
        tokens_h = dense.shape[-2] * height // out_h
        tokens_w = dense.shape[-1] * width // out_w
        if tokens_h % windows or tokens_w % windows:
            raise ValueError(f'the token grid {tokens_h}x{tokens_w} is not divisible into '
                             f'{windows}x{windows} windows')
        pooled = F.adaptive_avg_pool2d(dense, (tokens_h // windows, tokens_w // windows))
        pooled = pooled.unflatten(0, (batch, windows, windows))  # B x k x k x D x h/k x w/k
        return pooled.permute(0, 3, 1, 4, 2, 5).flatten(4, 5).flatten(2, 3).contiguous()

    return windowed
