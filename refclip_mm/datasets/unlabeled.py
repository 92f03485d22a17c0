"""Unlabeled images for stages 1 and 2: a folder, or the images of a COCO file; for stage 2
with each image's boxes from a proposal file or from the COCO file's own annotations."""
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

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


def missing_images(data_list: Sequence[dict], key: str = 'img_path') -> List[str]:
    """The ``data_list`` entries' image paths that are no file."""
    return [info[key] for info in data_list if not osp.isfile(info[key])]


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
        boxes_from_annotations: with ``ann_file``, each image's boxes are the ``bbox`` of its
            annotations in that file (ground-truth boxes, ``[x, y, w, h]`` -> ``[x1, y1, x2,
            y2]``), put in its ``proposals`` field as a proposal file's would be; images
            without a box are left out (logged). Not with ``proposal_file``.
        check_images: with ``ann_file``, an image it lists that the image folder lacks is an
            error when the dataset is built (naming the file, the folder and the images),
            rather than when the image is first loaded.
    """
    METAINFO = dict(classes=())

    def __init__(self, ann_file: str = '', data_root: str = '',
                 data_prefix: dict = dict(img=''), extensions: Sequence[str] = IMAGE_EXTENSIONS,
                 pipeline: Sequence[dict] = (), max_images: Optional[int] = None,
                 proposal_file: Optional[str] = None, boxes_from_annotations: bool = False,
                 check_images: bool = False, **kwargs):
        if boxes_from_annotations and (proposal_file or not ann_file):
            raise ValueError('boxes_from_annotations=True takes the boxes from ann_file (a COCO '
                             'json with annotations): give ann_file and no proposal_file '
                             f'(got ann_file={ann_file!r}, proposal_file={proposal_file!r})')
        self.extensions = tuple(e.lower() for e in extensions)
        self.max_images = max_images
        self.proposal_file = proposal_file
        self.boxes_from_annotations = boxes_from_annotations
        self.check_images = check_images
        self.num_images_without_boxes = 0
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

    def _annotation_boxes(self, data: dict, images: List[dict]) -> List[list]:
        """Each image's ``[[x1, y1, x2, y2], ...]`` from the annotations of ``data``."""
        annotations = data.get('annotations')
        if not isinstance(annotations, list):
            raise ValueError(f'{self.ann_file}: no "annotations" list, so there are no boxes to '
                             'take (boxes_from_annotations=True); give a COCO instances file, or '
                             'a proposal_file with the boxes')
        boxes = {image['id']: [] for image in images}
        for ann in annotations:
            bbox = ann.get('bbox')
            if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                raise ValueError(f'{self.ann_file}: annotation {ann.get("id")!r} has no "bbox" '
                                 '[x, y, width, height]')
            if ann.get('image_id') in boxes and bbox[2] > 0 and bbox[3] > 0:
                x, y, w, h = (float(v) for v in bbox)
                boxes[ann['image_id']].append([x, y, x + w, y + h])
        return [boxes[image['id']] for image in images]

    def _from_annotation_file(self, folder: str) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'annotation file not found: {self.ann_file!r}')
        with open(self.ann_file) as f:
            data = json.load(f)
        images = data.get('images') if isinstance(data, dict) else None
        if not images:
            raise ValueError(f'{self.ann_file!r} has no "images" entries')
        lacking = [i for i in images if 'file_name' not in i or
                   (self.boxes_from_annotations and 'id' not in i)]
        if lacking:
            raise ValueError(f'{self.ann_file}: {len(lacking)} images lack a "file_name"'
                             f'{" or an id" if self.boxes_from_annotations else ""}, e.g. '
                             f'{lacking[:2]}')
        data_list = [dict(img_path=osp.join(folder, image['file_name'])) for image in images]
        if self.check_images:
            missing = missing_images(data_list)
            if missing:
                raise FileNotFoundError(
                    f'{self.ann_file}: {len(missing)} of the {len(data_list)} images it lists are '
                    f'not in the image folder {folder!r} (data_prefix.img under data_root), e.g. '
                    f'{[osp.relpath(m, folder) if folder else m for m in missing[:3]]}')
        if self.boxes_from_annotations:
            for info, boxes in zip(data_list, self._annotation_boxes(data, images)):
                info.update(proposals=boxes, proposal_file=self.ann_file)
            kept = [info for info in data_list if info['proposals']]
            self.num_images_without_boxes = len(data_list) - len(kept)
            if not kept:
                raise ValueError(f'{self.ann_file}: none of its {len(data_list)} images has an '
                                 'annotation with a box (boxes_from_annotations=True)')
            if self.num_images_without_boxes:
                MMLogger.get_current_instance().info(
                    f'{type(self).__name__}: left out {self.num_images_without_boxes} of '
                    f'{len(data_list)} images of {self.ann_file} without an annotated box')
            data_list = kept
        return data_list

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix.get('img', '')
        if self.ann_file:
            data_list = self._from_annotation_file(folder)
        else:
            data_list = [dict(img_path=osp.join(folder, name))
                         for name in list_images(folder, self.extensions)]
        if self.max_images is not None:
            data_list = data_list[:self.max_images]
        if self.proposal_file:
            self._attach_proposals(data_list)
        return data_list
