"""Region boxes for stage-2 (RLA) training: random grid "patches" or region proposals."""
import json
import math
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from ..registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomGridBoxes(BaseTransform):
    """CLIPSelf's "patches": the cells of a random ``rows x cols`` grid over the image.

    ``rows`` is uniform in ``1..max_split``; ``cols`` uniform in
    ``ceil((rows + 1) / 2) .. min(2 * rows, max_split)``; when the grid has
    more than ``max_boxes`` cells a random subset is kept. The grid covers the
    valid (unpadded) region ``results['valid_shape']`` (or the image).
    Adds ``results['boxes']``: ``K x 4`` float32 ``(x1, y1, x2, y2)`` pixels.

    Args:
        max_split: largest number of rows / columns (6).
        max_boxes: most boxes per image (20).
    """

    def __init__(self, max_split: int = 6, max_boxes: int = 20):
        if max_split < 1 or max_boxes < 1:
            raise ValueError(f'max_split and max_boxes must be >= 1, got {max_split}, {max_boxes}')
        self.max_split = max_split
        self.max_boxes = max_boxes

    def transform(self, results: dict) -> dict:
        h, w = results.get('valid_shape', results['img'].shape[:2])
        rows = np.random.randint(1, self.max_split + 1)
        low, high = math.ceil((rows + 1) / 2), min(2 * rows, self.max_split)
        cols = np.random.randint(low, max(low, high) + 1)
        ys, xs = np.linspace(0, h, rows + 1), np.linspace(0, w, cols + 1)
        boxes = np.array([[xs[c], ys[r], xs[c + 1], ys[r + 1]]
                          for r in range(rows) for c in range(cols)], np.float32)
        if len(boxes) > self.max_boxes:
            boxes = boxes[np.sort(np.random.choice(len(boxes), self.max_boxes, replace=False))]
        results['boxes'] = boxes
        return results


@TRANSFORMS.register_module()
class LoadRegionProposals(BaseTransform):
    """Region proposals for an image from a JSON file, before any resize.

    The file maps an image's file name (relative to the image folder, as in
    the COCO ``file_name``) to a list of ``[x1, y1, x2, y2]`` or
    ``[x1, y1, x2, y2, score]`` boxes in original image pixels. The
    ``max_proposals`` highest-scoring (or first) boxes smaller than
    ``min_size`` pixels removed are kept. An image with no entry, or with no
    usable box, is an error naming the image and the file.

    Args:
        proposal_file: path of the JSON file.
        max_proposals: boxes kept per image (20).
        min_size: drop boxes whose width or height is below this (pixels).
    """

    def __init__(self, proposal_file: str, max_proposals: int = 20, min_size: float = 4.0):
        if not osp.isfile(proposal_file):
            raise FileNotFoundError(f'proposal file not found: {proposal_file!r}')
        with open(proposal_file) as f:
            self.proposals: Dict[str, List[List[float]]] = json.load(f)
        if not isinstance(self.proposals, dict) or not self.proposals:
            raise ValueError(f'{proposal_file!r} must map image file names to box lists')
        self.proposal_file = proposal_file
        self.max_proposals = max_proposals
        self.min_size = min_size

    def _entry(self, img_path: str) -> Optional[list]:
        parts = img_path.replace('\\', '/').split('/')
        for start in range(len(parts)):  # longest matching suffix of the path
            key = '/'.join(parts[start:])
            if key in self.proposals:
                return self.proposals[key]
        return None

    def transform(self, results: dict) -> dict:
        entry = self._entry(results['img_path'])
        if entry is None:
            raise KeyError(f'no proposals for image {results["img_path"]!r} in '
                           f'{self.proposal_file!r}')
        boxes = np.asarray(entry, np.float32).reshape(-1, len(entry[0]) if entry else 4)
        if boxes.shape[1] == 5:
            boxes = boxes[np.argsort(-boxes[:, 4], kind='stable')]
        boxes = boxes[:, :4]
        keep = ((boxes[:, 2] - boxes[:, 0]) >= self.min_size) & (
            (boxes[:, 3] - boxes[:, 1]) >= self.min_size)
        boxes = boxes[keep][:self.max_proposals]
        if len(boxes) == 0:
            raise ValueError(f'image {results["img_path"]!r} has no proposal of at least '
                             f'{self.min_size} px in {self.proposal_file!r}')
        results['boxes'] = boxes
        return results
