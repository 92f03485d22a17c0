"""Write the region-proposal file of the ``clipself-proposals`` stage-2 configs.

The file (read by :class:`~refclip_mm.datasets.box_transforms.LoadRegionProposals`) is a
JSON object mapping each image's path relative to the image folder (the COCO
``file_name``, ``/``-separated) to its boxes ``[[x1, y1, x2, y2, score], ...]`` in
original image pixels, highest score first.

:func:`make_proposal_file` fills it from any mmdet 3.x model config + checkpoint: an RPN
(``type='RPN'``: its proposals) or a detector (its detections, class labels ignored),
run with mmdet's own ``init_detector`` / ``inference_detector`` and the config's test
pipeline. Boxes are clipped to the image, made class-agnostic with one NMS, filtered by
score and size and capped per image.
"""
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torchvision.ops import nms

from ..utils.atomic import atomic_write_json
from .unlabeled import list_images

# test-pipeline steps that need ground truth; dropped for inference on bare images
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadPanopticAnnotations')


def select_proposals(bboxes: torch.Tensor, scores: torch.Tensor, image_shape: Sequence[int],
                     max_per_image: int = 100, score_thr: float = 0.0, min_size: float = 0.0,
                     nms_iou: Optional[float] = 0.7) -> List[List[float]]:
    """Boxes of one image -> the file's ``[[x1, y1, x2, y2, score], ...]``.

    Args:
        bboxes: ``K x 4`` boxes ``(x1, y1, x2, y2)`` in original pixels.
        scores: ``K`` scores.
        image_shape: ``(h, w)`` of the original image; boxes are clipped to it.
        max_per_image: most boxes kept (highest scores).
        score_thr: drop boxes scoring below this.
        min_size: drop boxes narrower or lower than this (pixels, after clipping).
        nms_iou: class-agnostic NMS threshold (``None``: no NMS).

    Returns:
        rows sorted by decreasing score, coordinates rounded to 0.1 px, scores to 1e-4.
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    bboxes = bboxes.detach().float().cpu().reshape(-1, 4).clone()
    scores = scores.detach().float().cpu().reshape(-1)
    bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, w)
    bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, h)
    keep = (scores >= score_thr) & (bboxes[:, 2] - bboxes[:, 0] >= max(min_size, 1e-3)) & (
        bboxes[:, 3] - bboxes[:, 1] >= max(min_size, 1e-3))
    bboxes, scores = bboxes[keep], scores[keep]
    if nms_iou is not None and len(bboxes):
        order = nms(bboxes, scores, nms_iou)
    else:
        order = torch.argsort(scores, descending=True, stable=True)
    order = order[:max_per_image]
    return [[round(float(v), 1) for v in box] + [round(float(s), 4)]
            for box, s in zip(bboxes[order], scores[order])]


def inference_pipeline(cfg) -> list:
    """The config's test pipeline without its ground-truth loaders (mmdet config dicts)."""
    from mmdet.utils import get_test_pipeline_cfg
    pipeline = [step for step in get_test_pipeline_cfg(cfg)
                if str(step.get('type', '')).split('.')[-1] not in ANNOTATION_LOADERS]
    if not pipeline:
        raise ValueError('the config has no test pipeline (test_dataloader.dataset.pipeline)')
    return pipeline


def init_model(config, checkpoint: Optional[str], device: str = 'cpu',
               cfg_options: Optional[dict] = None):
    """mmdet's ``init_detector`` with mmdet's and this package's modules registered."""
    from mmdet.apis import init_detector
    from mmdet.utils import register_all_modules

    import refclip_mm  # noqa: F401  (registers the package's models, e.g. F-ViT)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint!r}')
    register_all_modules(init_default_scope=False)
    return init_detector(config, checkpoint, device=device, cfg_options=cfg_options)


def make_proposal_file(config, checkpoint: Optional[str], image_folder: str, out: str,
                       device: str = 'cpu', max_per_image: int = 100, score_thr: float = 0.0,
                       min_size: float = 0.0, nms_iou: Optional[float] = 0.7,
                       max_images: Optional[int] = None, cfg_options: Optional[dict] = None,
                       log: Optional[Callable[[str], None]] = print) -> Dict[str, List[List[float]]]:
    """Run an mmdet detector / RPN over an image folder and write the proposal file.

    Args:
        config: mmdet config file (or ``mmengine.Config``) of the model.
        checkpoint: its trained weights (``None``: the config's initialisation; tests only).
        image_folder: folder of images; keys are paths relative to it.
        out: the JSON file to write (atomically).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
        max_per_image, score_thr, min_size, nms_iou: see :func:`select_proposals`.
        max_images: only the first N images (sorted), e.g. for a trial run.
        cfg_options: overrides merged into the config.
        log: progress printer (``None``: silent).

    Returns:
        the mapping written to ``out``.
    """
    from mmdet.apis import inference_detector
    from mmengine.dataset import Compose

    images = list_images(image_folder)[:max_images]
    model = init_model(config, checkpoint, device, cfg_options)
    pipeline = Compose(inference_pipeline(model.cfg))
    proposals: Dict[str, List[List[float]]] = {}
    start = time.perf_counter()
    for index, name in enumerate(images):
        sample = inference_detector(model, osp.join(image_folder, name), test_pipeline=pipeline)
        pred = sample.pred_instances
        proposals[name] = select_proposals(pred.bboxes, pred.scores, sample.metainfo['ori_shape'],
                                           max_per_image, score_thr, min_size, nms_iou)
        if log is not None and (index + 1) % 500 == 0:
            rate = (index + 1) / (time.perf_counter() - start)
            log(f'{index + 1}/{len(images)} images ({rate:.1f} images/s)')
    empty = [name for name, boxes in proposals.items() if not boxes]
    atomic_write_json(out, proposals, separators=(',', ':'))
    if log is not None:
        kept = sum(len(boxes) for boxes in proposals.values())
        log(f'wrote {out}: {kept} boxes for {len(images)} images '
            f'({kept / max(len(images), 1):.1f} per image); {len(empty)} images without a box'
            + (f', e.g. {empty[:3]}' if empty else ''))
    return proposals
