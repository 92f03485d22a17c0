"""Random local boxes for self-supervised training (METHOD.md section 4, step 1)."""
import math
from typing import Optional, Sequence, Tuple

import torch


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
