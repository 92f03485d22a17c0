"""The ToyWorld's tower evaluations that need no training (docs/toyworld.md).

All of them read a split written by :func:`refclip_mm.datasets.synthetic.write_dataset`
(:func:`load_eval_set`) and a tower's dense maps ``B x D x h x w`` in the
text-aligned (projected) space:

* :func:`unsupervised_seg_miou`: k-means + Hungarian matching (the dense-quality metric);
* :func:`ov_seg_miou`: training-free open-vocabulary segmentation (each token takes the
  class whose text embedding it is closest to);
* :func:`region_top1`: region classification of ground-truth boxes (RoIAlign) and of
  thing masks (mask pooling) against the thing-class text embeddings;
* :func:`zero_shot_accuracy`: image-level zero-shot classification (CLS path) of
  single-object scenes, to show that stage 0 learned the world;
* :func:`linear_probe_miou`: a linear classifier of the semantic classes trained on the
  frozen tokens of training scenes (the standard dense-quality protocol);
* :func:`scene_locality`: the locality index on scene pairs that differ in one object.

Every metric takes the maps of a tower run at an evaluation size (:func:`resize_images`):
the second world's scenes are drawn at 64 px and a larger size zooms them; the third world's
are drawn at 192 px and a smaller size shows them downsampled (antialiased), as a photo is.
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..datasets.synthetic import (COLOURS, SEMANTIC_CLASSES, THING_CLASSES, SceneConfig,
                                  render_scene, render_scene_pair)
from ..evaluation.linear_probe import linear_probe_segmentation
from ..evaluation.locality import locality_index
from ..evaluation.towers import load_rgb, normalize_images
from ..evaluation.unsupervised_seg import evaluate_over_restarts

DenseFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class EvalSet:
    """A labelled split in memory.

    Attributes:
        images: ``N x 3 x H x W`` CLIP-normalised images.
        semantic: ``N x H x W`` int64 semantic labels (stuff, then thing classes).
        boxes: per image ``K_i x 4`` float boxes ``(x1, y1, x2, y2)`` in pixels.
        labels: per image ``K_i`` thing-class indices.
        masks: per image ``K_i x H x W`` bool visible-part masks.
    """
    images: torch.Tensor
    semantic: torch.Tensor
    boxes: List[torch.Tensor]
    labels: List[torch.Tensor]
    masks: List[torch.Tensor]

    def __len__(self) -> int:
        return self.images.shape[0]


def load_eval_set(root: str, split: str = 'val', limit: Optional[int] = None) -> EvalSet:
    """Read ``root/images/<split>``, ``root/semantic/<split>`` and ``instances_<split>.json``
    (the first ``limit`` images of the file when given)."""
    from PIL import Image
    from pycocotools import mask as mask_utils
    ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{ann_file} not found; write the split with '
                                'tools/make_synthetic_data.py or tools/toyworld.py')
    with open(ann_file) as f:
        coco = json.load(f)
    coco['images'] = coco['images'][:limit]
    per_image: Dict[int, list] = {image['id']: [] for image in coco['images']}
    for ann in coco['annotations']:
        if ann['image_id'] in per_image:
            per_image[ann['image_id']].append(ann)
    images, semantic, boxes, labels, masks = [], [], [], [], []
    for image in coco['images']:
        stem = osp.splitext(image['file_name'])[0]
        images.append(load_rgb(osp.join(root, 'images', split, image['file_name'])))
        semantic.append(np.asarray(Image.open(osp.join(root, 'semantic', split, stem + '.png'))))
        anns = per_image[image['id']]
        boxes.append(torch.tensor([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                                    a['bbox'][1] + a['bbox'][3]] for a in anns],
                                  dtype=torch.float32).reshape(-1, 4))
        labels.append(torch.tensor([a['category_id'] - 1 for a in anns], dtype=torch.long))
        h, w = image['height'], image['width']
        masks.append(torch.from_numpy(np.stack(
            [mask_utils.decode(a['segmentation']).astype(bool) for a in anns]
            or [np.zeros((h, w), bool)][:0]).reshape(-1, h, w)))
    if not images:
        raise ValueError(f'{ann_file} lists no images')
    return EvalSet(normalize_images(np.stack(images)), torch.from_numpy(np.stack(semantic)).long(),
                   boxes, labels, masks)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """``N x 3 x size x size``: normalised images resized (bilinear) to the evaluation size,
    antialiased when they shrink."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode='bilinear', align_corners=False,
                         antialias=size < max(images.shape[-2:]))


@torch.no_grad()
def dense_maps(fn: DenseFn, images: torch.Tensor, size: Optional[int] = None,
               batch_size: int = 32) -> torch.Tensor:
    """``N x D x h x w`` dense maps of ``images`` (``N x 3 x H x W``) zoomed to ``size``
    (default: as they are), computed in batches."""
    size = size or images.shape[-1]
    return torch.cat([fn(resize_images(images[i:i + batch_size], size)).float()
                      for i in range(0, images.shape[0], batch_size)])


def unsupervised_seg_miou(maps: torch.Tensor, data: EvalSet, seed: int = 0,
                          restarts: int = 10) -> float:
    """mIoU (%) of k-means clusters (k = number of semantic classes) matched to the classes,
    averaged over ``restarts`` k-means seeds (``seed * 1000 + r``)."""
    result = evaluate_over_restarts(list(maps), list(data.semantic), len(SEMANTIC_CLASSES),
                                    restarts=restarts, seed=seed * 1000)
    return float(result.miou)


def linear_probe_miou(train_maps: torch.Tensor, train: EvalSet, val_maps: torch.Tensor,
                      val: EvalSet, seed: int = 0) -> float:
    """Linear-probe segmentation mIoU (%): a 1 x 1 classifier of the semantic classes trained
    on ``train_maps`` (``N x D x h x w``) and scored on ``val_maps``."""
    result = linear_probe_segmentation(list(train_maps), list(train.semantic), list(val_maps),
                                       list(val.semantic), len(SEMANTIC_CLASSES), seed=seed)
    return float(result.miou)


ScenePair = Tuple[torch.Tensor, torch.Tensor, np.ndarray]


def scene_pairs(num_pairs: int, seed: int = 0, image_size: int = 64,
                cfg: Optional[SceneConfig] = None) -> List[ScenePair]:
    """Scene pairs that differ in exactly one object, half with its category swapped and half
    with it removed: ``(image a, image b, changed-pixel mask)``, images normalised
    ``3 x H x W``, drawn with ``cfg`` (default: the second world's scenes at ``image_size``)."""
    rng = np.random.default_rng(seed)
    cfg = cfg or SceneConfig(image_size=image_size, object_scale=(0.2, 0.55))
    pairs = []
    for index in range(num_pairs):
        scene, changed, mask = render_scene_pair(rng, cfg, 'swap' if index % 2 == 0 else 'remove')
        a, b = normalize_images(np.stack([scene.image, changed.image]))
        pairs.append((a, b, mask))
    return pairs


@torch.no_grad()
def scene_locality(fn: DenseFn, pairs: Sequence[ScenePair], size: int,
                   min_distance: int = 2) -> float:
    """Locality index (far / near token change, see :mod:`refclip_mm.evaluation.locality`)
    of a tower on scene pairs zoomed to ``size``; 0: perfectly local."""
    a = dense_maps(fn, torch.stack([p[0] for p in pairs]), size)
    b = dense_maps(fn, torch.stack([p[1] for p in pairs]), size)
    return float(locality_index([(x, y, p[2]) for x, y, p in zip(a, b, pairs)],
                                min_distance).index)


def confusion_miou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """mIoU (%) over the classes that occur in ``target`` or ``pred`` (both int label maps)."""
    confusion = torch.bincount(target.reshape(-1) * num_classes + pred.reshape(-1),
                               minlength=num_classes ** 2).reshape(num_classes, num_classes)
    inter = confusion.diag().double()
    union = confusion.sum(0).double() + confusion.sum(1).double() - inter
    present = union > 0
    return float((inter[present] / union[present]).mean() * 100)


def ov_seg_miou(maps: torch.Tensor, class_embeddings: torch.Tensor, data: EvalSet) -> float:
    """Training-free open-vocabulary segmentation mIoU (%).

    Args:
        maps: ``N x D x h x w`` projected dense maps.
        class_embeddings: ``C x D`` text embeddings of :data:`SEMANTIC_CLASSES`, in order.
    """
    if class_embeddings.shape[0] != len(SEMANTIC_CLASSES):
        raise ValueError(f'need {len(SEMANTIC_CLASSES)} semantic-class embeddings, got '
                         f'{class_embeddings.shape[0]}')
    text = F.normalize(class_embeddings.float(), dim=-1)
    logits = torch.einsum('ndhw,cd->nchw', F.normalize(maps, dim=1), text)
    logits = F.interpolate(logits, size=data.semantic.shape[-2:], mode='bilinear',
                           align_corners=False)
    return confusion_miou(logits.argmax(1), data.semantic, len(SEMANTIC_CLASSES))


def box_features(maps: torch.Tensor, data: EvalSet) -> torch.Tensor:
    """``K x D`` RoIAlign (1 x 1) features of every ground-truth box of the split."""
    from ..utils.regions import region_features
    stride = data.images.shape[-1] / maps.shape[-1]
    return region_features(maps, data.boxes, 1.0 / stride)


def mask_features(maps: torch.Tensor, data: EvalSet) -> torch.Tensor:
    """``K x D`` mask-pooled features: the tokens' mean weighted by each mask's coverage."""
    feats = []
    for image_maps, masks in zip(maps, data.masks):
        if len(masks) == 0:
            continue
        cover = F.adaptive_avg_pool2d(masks[:, None].float(), image_maps.shape[-2:]).flatten(1)
        weights = cover / cover.sum(1, keepdim=True).clamp_min(1e-6)
        feats.append(weights @ image_maps.flatten(1).t())
    return torch.cat(feats)


def region_top1(maps: torch.Tensor, thing_embeddings: torch.Tensor, data: EvalSet
                ) -> Dict[str, float]:
    """Accuracy (%) of boxes and of masks classified among the thing classes.

    Returns:
        ``box`` and ``mask``: top-1; ``box_colour``, ``box_shape``, ``mask_colour``,
        ``mask_shape``: the predicted class has the right colour / shape (chance 25% / 20%).
    """
    if thing_embeddings.shape[0] != len(THING_CLASSES):
        raise ValueError(f'need {len(THING_CLASSES)} thing-class embeddings, got '
                         f'{thing_embeddings.shape[0]}')
    labels = torch.cat(data.labels)
    if labels.numel() == 0:
        raise ValueError('the split has no instances to classify')
    text = F.normalize(thing_embeddings.float(), dim=-1)
    colours = len(COLOURS)  # THING_CLASSES runs over colours fastest
    out = {}
    for name, feats in (('box', box_features(maps, data)), ('mask', mask_features(maps, data))):
        pred = (F.normalize(feats, dim=-1) @ text.t()).argmax(1)
        out[name] = _percent(pred == labels)
        out[f'{name}_colour'] = _percent(pred % colours == labels % colours)
        out[f'{name}_shape'] = _percent(pred // colours == labels // colours)
    return out


def _percent(correct: torch.Tensor) -> float:
    return float(correct.float().mean() * 100)


def single_object_scenes(num_images: int, seed: int, image_size: int = 64,
                         cfg: Optional[SceneConfig] = None):
    """``(images N x 3 x H x W normalised, labels N)``: one thing per scene, uniform classes,
    drawn with ``cfg`` (default: the second world's at ``image_size``; it must draw one
    thing per scene)."""
    rng = np.random.default_rng(seed)
    cfg = cfg or SceneConfig(image_size=image_size, objects_per_image=(1, 1),
                             object_scale=(0.3, 0.55))
    images, labels = [], []
    while len(images) < num_images:
        scene = render_scene(rng, cfg)
        if len(scene.instances) == 1:
            images.append(scene.image)
            labels.append(scene.instances[0]['category'])
    return normalize_images(np.stack(images)), torch.tensor(labels)


@torch.no_grad()
def zero_shot_accuracy(encode_image: Callable[[torch.Tensor], torch.Tensor],
                       thing_embeddings: torch.Tensor, num_images: int = 500, seed: int = 0,
                       image_size: int = 64, scene_cfg: Optional[SceneConfig] = None,
                       input_size: Optional[int] = None) -> Dict[str, float]:
    """Zero-shot accuracy (%) on single-object scenes (drawn with ``scene_cfg``, see
    :func:`single_object_scenes`) among the thing classes, the images resized to
    ``input_size`` (default: as drawn).

    Returns:
        ``top1`` (the class; chance 5%), ``colour`` and ``shape`` (the predicted class has the
        right colour / shape; chance 25% / 20%).
    """
    images, labels = single_object_scenes(num_images, seed, image_size, scene_cfg)
    images = resize_images(images, input_size or images.shape[-1])
    feats = torch.cat([encode_image(images[i:i + 64]) for i in range(0, num_images, 64)])
    pred = (F.normalize(feats, dim=-1) @ F.normalize(thing_embeddings.float(), dim=-1).t()).argmax(1)
    colours = len(COLOURS)
    return dict(top1=_percent(pred == labels), colour=_percent(pred % colours == labels % colours),
                shape=_percent(pred // colours == labels // colours))


def evaluate_tower(fn: DenseFn, data: EvalSet, semantic_embeddings: Optional[torch.Tensor],
                   thing_embeddings: Optional[torch.Tensor], seed: int = 0,
                   size: Optional[int] = None, probe_data: Optional[EvalSet] = None,
                   pairs: Sequence[ScenePair] = (), restarts: int = 10) -> Dict[str, float]:
    """Every training-free ToyWorld metric of one tower at one evaluation size.

    Returns (all in %, the locality index as a ratio): ``unsup_miou`` (mean over ``restarts``
    k-means seeds), ``probe_miou`` (with ``probe_data``: the linear probe trained on it),
    ``locality`` (with ``pairs``), and, with text embeddings, ``ov_seg_miou``, ``box_top1``,
    ``mask_top1`` and the colour / shape parts of the latter two. A tower without text
    alignment (``None`` embeddings) gets the dense-quality metrics only.
    """
    maps = dense_maps(fn, data.images, size)
    metrics = dict(unsup_miou=unsupervised_seg_miou(maps, data, seed, restarts))
    if probe_data is not None:
        metrics['probe_miou'] = linear_probe_miou(dense_maps(fn, probe_data.images, size),
                                                  probe_data, maps, data, seed)
    if pairs:
        metrics['locality'] = scene_locality(fn, pairs, size or data.images.shape[-1])
    if semantic_embeddings is not None and thing_embeddings is not None:
        regions = region_top1(maps, thing_embeddings, data)
        metrics.update(ov_seg_miou=ov_seg_miou(maps, semantic_embeddings, data),
                       box_top1=regions.pop('box'), mask_top1=regions.pop('mask'))
        metrics.update(regions)
    return metrics


def mean_std(values: Sequence[float]):
    """``(mean, sample std)``; std is 0 for a single value."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0
