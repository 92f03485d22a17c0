"""Random training boxes of both stages, and the one rule that seeds them.

Stage 1 samples local boxes (docs/method.md section 4, step 1: :func:`sample_local_boxes`), stage 2
the cells of a random grid (CLIPSelf's "patches", section 5: :func:`sample_grid_boxes`). Both
draw from :func:`box_generator`: inside an mmengine Runner a generator seeded by
``(seed, rank, iteration)`` (:func:`seeded_generator`), so the boxes of an iteration are the same
whether or not the run was interrupted and resumed, and differ across ranks.
"""
import math
from typing import Optional, Sequence, Tuple

import torch

from ...utils.runner_state import current_iteration


def seeded_generator(seed: int, rank: int, iteration: int) -> torch.Generator:
    """The box generator of ``iteration`` on ``rank`` of a run seeded with ``seed``."""
    return torch.Generator().manual_seed(
        (int(seed) * 1_000_003 + int(rank) * 10_007 + int(iteration)) % (2 ** 63))


def box_generator() -> Optional[torch.Generator]:
    """The generator a model draws this iteration's boxes from.

    Inside a Runner: :func:`seeded_generator` of the run's seed (``torch.initial_seed()``, which
    the Runner sets, also when it resumes), this process's rank and the current iteration.
    Outside a Runner: ``None``, the global torch generator.
    """
    iteration = current_iteration()
    if iteration is None:
        return None
    from mmengine.dist import get_rank
    return seeded_generator(torch.initial_seed(), get_rank(), iteration)


def sample_local_boxes(valid_shapes: Sequence[Tuple[int, int]], num_boxes: int,
                       area_range: Tuple[float, float] = (0.25, 0.5),
                       aspect_range: Tuple[float, float] = (2 / 3, 3 / 2),
                       generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Sample ``num_boxes`` boxes inside each image's valid (unpadded) region.

    Area is uniform in ``area_range`` (fraction of the valid region), the
    aspect ratio ``w / h`` log-uniform in ``aspect_range``; a box that would
    not fit is shrunk to fit, keeping its centre inside the image.

    Args:
        valid_shapes: per image ``(h, w)`` of the valid region (top-left aligned).
        num_boxes: boxes per image ``M``.
        area_range: min/max box area as a fraction of the valid area.
        aspect_range: min/max ``w / h``.
        generator: optional torch generator for reproducibility.

    Returns:
        ``(B*M) x 5`` float tensor of RoI rows ``(batch_index, x1, y1, x2, y2)``
        in pixels, the ``M`` boxes of image 0 first.
    """
    if num_boxes < 1:
        raise ValueError(f'num_boxes must be >= 1, got {num_boxes}')
    if not 0 < area_range[0] <= area_range[1] <= 1:
        raise ValueError(f'area_range must satisfy 0 < min <= max <= 1, got {area_range}')
    rows = []
    for index, (h, w) in enumerate(valid_shapes):
        u = torch.rand(num_boxes, 4, generator=generator)
        area = (area_range[0] + (area_range[1] - area_range[0]) * u[:, 0]) * h * w
        log_ar = math.log(aspect_range[0]) + (math.log(aspect_range[1]) - math.log(aspect_range[0])) * u[:, 1]
        ratio = torch.exp(log_ar)
        bw = torch.sqrt(area * ratio).clamp(max=w)
        bh = torch.sqrt(area / ratio).clamp(max=h)
        x1 = (w - bw) * u[:, 2]
        y1 = (h - bh) * u[:, 3]
        rows.append(torch.stack([torch.full_like(x1, index), x1, y1, x1 + bw, y1 + bh], dim=1))
    return torch.cat(rows)


def grid_shape(max_split: int, generator: Optional[torch.Generator] = None) -> Tuple[int, int]:
    """Random ``(rows, cols)`` of a CLIPSelf grid: ``rows`` uniform in ``1..max_split``,
    ``cols`` uniform in ``ceil((rows + 1) / 2) .. min(2 * rows, max_split)``."""
    rows = int(torch.randint(1, max_split + 1, (1, ), generator=generator))
    low, high = math.ceil((rows + 1) / 2), min(2 * rows, max_split)
    cols = int(torch.randint(low, max(low, high) + 1, (1, ), generator=generator))
    return rows, cols


def sample_grid_boxes(valid_shape: Tuple[int, int], max_split: int = 6, max_boxes: int = 20,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The cells of a random grid over an image's valid region (CLIPSelf's "patches").

    The grid is :func:`grid_shape`; when it has more than ``max_boxes`` cells a random subset
    is kept (in grid order).

    Args:
        valid_shape: ``(h, w)`` of the valid (unpadded, top-left aligned) region.
        max_split: largest number of rows / columns.
        max_boxes: most boxes.
        generator: optional torch generator (:func:`box_generator`).

    Returns:
        ``K x 4`` float32 ``(x1, y1, x2, y2)`` pixels, row by row.
    """
    if max_split < 1 or max_boxes < 1:
        raise ValueError(f'max_split and max_boxes must be >= 1, got {max_split}, {max_boxes}')
    h, w = valid_shape
    rows, cols = grid_shape(max_split, generator)
    ys = torch.linspace(0, float(h), rows + 1, dtype=torch.float64)
    xs = torch.linspace(0, float(w), cols + 1, dtype=torch.float64)
    y1, x1 = torch.meshgrid(ys[:-1], xs[:-1], indexing='ij')
    y2, x2 = torch.meshgrid(ys[1:], xs[1:], indexing='ij')
    boxes = torch.stack([x1, y1, x2, y2], dim=-1).reshape(-1, 4).float()
    if len(boxes) > max_boxes:
        keep = torch.randperm(len(boxes), generator=generator)[:max_boxes].sort().values
        boxes = boxes[keep]
    return boxes
