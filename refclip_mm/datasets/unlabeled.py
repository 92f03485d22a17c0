"""Unlabeled images for stage-1 (Refiner) training: a folder, or the images of a COCO file."""
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .box_transforms import find_proposals, read_proposal_file

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def list_images(folder: str, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> List[str]:
    """Image files under ``folder`` (recursive, sorted), as ``/``-separated relative paths."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'image folder not found: {folder!r}')
    extensions = tuple(e.lower() for e in extensions)
    found = sorted(osp.relpath(osp.join(root, name), folder).replace(os.sep, '/')
                   for root, _, names in os.walk(folder) for name in names
                   if name.lower().endswith(extensions))
    if not found:
        raise ValueError(f'no images with suffix {extensions} under {folder!r}')
    return found


@DATASETS.register_module()
class UnlabeledImageDataset(BaseDataset):
    """Images without labels.

    Either every image under ``data_prefix['img']`` (recursively, sorted), or,
    with ``ann_file`` (a COCO-format json), the images it lists, found under
    ``data_prefix['img']``.

    Args:
        ann_file: optional COCO json (relative to ``data_root``); '' for a folder.
        data_root: root folder.
        data_prefix: ``dict(img='train2017/')``: the image folder.
        extensions: file suffixes taken from a folder.
        pipeline: transforms (see :mod:`refclip_mm.datasets.transforms`).
        max_images: keep only the first N images (None: all).
        proposal_file: optional region-proposal JSON (relative to ``data_root``
            unless absolute; format in
            :class:`~refclip_mm.datasets.LoadRegionProposals`): each image's
            boxes go to its ``proposals`` field. Every image must have an entry.
    """
    METAINFO = dict(classes=())

    def __init__(self, ann_file: str = '', data_root: str = '',
                 data_prefix: dict = dict(img=''), extensions: Sequence[str] = IMAGE_EXTENSIONS,
                 pipeline: Sequence[dict] = (), max_images: Optional[int] = None,
                 proposal_file: Optional[str] = None, **kwargs):
        self.extensions = tuple(e.lower() for e in extensions)
        self.max_images = max_images
        self.proposal_file = proposal_file
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         pipeline=list(pipeline), **kwargs)

    def _join_prefix(self):
        super()._join_prefix()
        if self.proposal_file and not osp.isabs(self.proposal_file) and self.data_root:
            self.proposal_file = osp.join(self.data_root, self.proposal_file)

    def _attach_proposals(self, data_list: List[dict]) -> None:
        proposals = read_proposal_file(self.proposal_file)
        missing = []
        for info in data_list:
            entry = find_proposals(proposals, info['img_path'])
            if entry is None:
                missing.append(info['img_path'])
            info.update(proposals=entry, proposal_file=self.proposal_file)
        if missing:
            raise KeyError(f'{len(missing)} of {len(data_list)} images have no entry in the '
                           f'proposal file {self.proposal_file!r}, e.g. {missing[:3]}; make it '
                           'for these images (tools/make_proposals.py)')

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix.get('img', '')
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f'annotation file not found: {self.ann_file!r}')
            with open(self.ann_file) as f:
                images = json.load(f).get('images')
            if not images:
                raise ValueError(f'{self.ann_file!r} has no "images" entries')
            paths = [osp.join(folder, image['file_name']) for image in images]
        else:
            paths = [osp.join(folder, name) for name in list_images(folder, self.extensions)]
        if self.max_images is not None:
            paths = paths[:self.max_images]
        data_list = [dict(img_path=path) for path in paths]
        if self.proposal_file:
            self._attach_proposals(data_list)
        return data_list
