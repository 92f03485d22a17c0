"""Region boxes for stage-2 (RLA) training: random grid "patches" or region proposals."""
import json
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from ..registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomGridBoxes(BaseTransform):
    """CLIPSelf's "patches": ask the stage-2 model for the cells of a random grid.

    The grid (``rows`` uniform in ``1..max_split``, ``cols`` uniform in
    ``ceil((rows + 1) / 2) .. min(2 * rows, max_split)``, at most ``max_boxes``
    cells kept) is drawn by the model each iteration, from the generator seeded
    by (seed, rank, iteration) that also draws the stage-1 boxes
    (:func:`refclip_mm.models.trainers.boxes.box_generator`), so a resumed run
    sees the same boxes as an uninterrupted one. This transform records the
    request: ``results['grid_boxes'] = (max_split, max_boxes)``, packed into
    the sample's metainfo; the grid covers the sample's ``valid_shape``.

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
        results.setdefault('valid_shape', tuple(results['img'].shape[:2]))
        results['grid_boxes'] = (self.max_split, self.max_boxes)
        return results


def read_proposal_file(path: str) -> Dict[str, List[List[float]]]:
    """Read a region-proposal JSON file: ``{file_name: [[x1, y1, x2, y2(, score)], ...]}``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'proposal file not found: {path!r} (make one with '
                                'tools/make_proposals.py)')
    with open(path) as f:
        proposals = json.load(f)
    if not isinstance(proposals, dict) or not proposals:
        raise ValueError(f'{path!r} must map image file names to box lists')
    return proposals


def find_proposals(proposals: Dict[str, list], img_path: str) -> Optional[list]:
    """The entry of ``img_path`` in a proposal mapping: the longest matching path suffix."""
    parts = img_path.replace('\\', '/').split('/')
    for start in range(len(parts)):
        key = '/'.join(parts[start:])
        if key in proposals:
            return proposals[key]
    return None


@TRANSFORMS.register_module()
class LoadRegionProposals(BaseTransform):
    """Region proposals of an image, before any resize: the ``max_proposals`` best boxes.

    The boxes come from ``results['proposals']``, which a dataset with a
    ``proposal_file`` (e.g. ``UnlabeledImageDataset``) puts there, or from this
    transform's own ``proposal_file``. A proposal file maps an image's file
    name (relative to the image folder, as in the COCO ``file_name``) to a list
    of ``[x1, y1, x2, y2]`` or ``[x1, y1, x2, y2, score]`` boxes in original
    image pixels. The ``max_proposals`` highest-scoring (or first) boxes, those
    smaller than ``min_size`` pixels removed, are kept. An image with no entry,
    or with no usable box, is an error naming the image and the file.

    Args:
        proposal_file: JSON file (``None``: use ``results['proposals']``).
        max_proposals: boxes kept per image (20).
        min_size: drop boxes whose width or height is below this (pixels).
    """

    def __init__(self, proposal_file: Optional[str] = None, max_proposals: int = 20,
                 min_size: float = 4.0):
        self.proposals = None if proposal_file is None else read_proposal_file(proposal_file)
        self.proposal_file = proposal_file
        self.max_proposals = max_proposals
        self.min_size = min_size

    def _entry(self, results: dict) -> list:
        if self.proposals is not None:
            entry, source = find_proposals(self.proposals, results['img_path']), self.proposal_file
        else:
            if 'proposals' not in results:
                raise KeyError('LoadRegionProposals has no proposal_file and the dataset gave no '
                               "'proposals': set train_dataloader.dataset.proposal_file")
            entry, source = results['proposals'], results.get('proposal_file', 'the dataset')
        if entry is None:
            raise KeyError(f'no proposals for image {results["img_path"]!r} in {source!r}')
        return entry

    def transform(self, results: dict) -> dict:
        entry = self._entry(results)
        boxes = np.asarray(entry, np.float32).reshape(-1, len(entry[0]) if entry else 4)
        if boxes.shape[1] == 5:
            boxes = boxes[np.argsort(-boxes[:, 4], kind='stable')]
        boxes = boxes[:, :4]
        keep = ((boxes[:, 2] - boxes[:, 0]) >= self.min_size) & (
            (boxes[:, 3] - boxes[:, 1]) >= self.min_size)
        boxes = boxes[keep][:self.max_proposals]
        if len(boxes) == 0:
            source = self.proposal_file or results.get('proposal_file', 'the dataset')
            raise ValueError(f'image {results["img_path"]!r} has no proposal of at least '
                             f'{self.min_size} px in {source!r}')
        results['boxes'] = boxes
        return results
