"""The premises a world must meet before the method's claims are tested in it (docs/toyworld.md,
"The third world: premise checks"), measured on the stage-0 CLIP alone, before any RLA.

* P1, *the patch tokens know what they show*: :func:`token_naming` (each token covered by one
  thing names it among the thing classes) and training-free open-vocabulary segmentation;
* P2, *a zoomed crop shows more than the full view*: :func:`small_thing_views` (a small thing
  named from the embedding of a crop around it, against the RoI feature of the full view) and
  the native-windows view (:func:`~refclip_mm.evaluation.zoomed_windows` with the CLIP's own
  size) against the full view on the dense metrics.

:data:`THRESHOLDS` holds the registered bars and :func:`judge` applies them; nothing here is
fitted to a result.
"""
from typing import Callable, Dict, Sequence

import torch
import torch.nn.functional as F

from ..datasets.synthetic import COLOURS, STUFF_CLASSES, THING_CLASSES
from ..utils.regions import region_features
from .evaluate import EvalSet, resize_images

# The registered bars (written before the third world's stage-0 CLIP was measured).
THRESHOLDS = dict(
    token_shape_64=50.0,       # P1a: thing tokens name the right shape, % at 64 px (chance 20)
    token_top1_64=40.0,        # P1b: thing tokens name the right class, % at 64 px (chance 5)
    ov_seg_64=20.0,            # P1c: training-free OV seg mIoU at 64 px
    crop_gain_192=10.0,        # P2a: small things, crop top-1 - full-view RoI top-1 at 192 px
    windows_gain_192=2.0,      # P2b: native windows - full view, unsup. or probe mIoU at 192 px
)


def _shares(data: EvalSet, grid: Sequence[int]) -> torch.Tensor:
    """``N x C x h x w``: the share of each token cell's pixels in each semantic class."""
    classes = len(STUFF_CLASSES) + len(THING_CLASSES)
    onehot = F.one_hot(data.semantic, classes).permute(0, 3, 1, 2).float()
    return F.adaptive_avg_pool2d(onehot, tuple(grid))


def _named(pred: torch.Tensor, labels: torch.Tensor) -> Dict[str, float]:
    """Top-1 / colour right / shape right (%) of thing-class predictions."""
    colours = len(COLOURS)  # THING_CLASSES runs over colours fastest

    def percent(correct):
        return float(correct.float().mean() * 100) if correct.numel() else float('nan')
    return dict(top1=percent(pred == labels),
                colour=percent(pred % colours == labels % colours),
                shape=percent(pred // colours == labels // colours),
                count=int(labels.numel()))


def token_naming(maps: torch.Tensor, thing_embeddings: torch.Tensor, data: EvalSet,
                 min_share: float = 0.5) -> Dict[str, float]:
    """How often a token on a thing names that thing.

    Args:
        maps: ``N x D x h x w`` projected dense maps of ``data``'s images.
        thing_embeddings: ``20 x D`` text embeddings of :data:`THING_CLASSES`.
        min_share: a token counts when at least this share of its cell's pixels show one thing
            class.

    Returns:
        ``top1``, ``colour``, ``shape`` (%; chance 5 / 25 / 20) over the counted tokens, and
        ``count``.
    """
    shares = _shares(data, maps.shape[-2:])[:, len(STUFF_CLASSES):]     # N x 20 x h x w
    best, labels = shares.max(1)
    counted = best >= min_share
    text = F.normalize(thing_embeddings.float(), dim=-1)
    logits = torch.einsum('ndhw,cd->nchw', F.normalize(maps.float(), dim=1), text)
    pred = logits.argmax(1)
    return _named(pred[counted], labels[counted])


def small_things(data: EvalSet, max_side: float) -> list:
    """Per image, the indices of the things whose box side is at most ``max_side`` of the
    image side."""
    size = data.images.shape[-1]
    return [torch.nonzero((boxes[:, 2:] - boxes[:, :2]).amax(1) <= max_side * size).flatten()
            for boxes in data.boxes]


def crop_boxes(boxes: torch.Tensor, image_size: int, context: float) -> torch.Tensor:
    """``K x 4`` square boxes of side ``context`` x the box's longer side (at most the image),
    centred on each box and shifted to lie inside the image."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = ((boxes[:, 2:] - boxes[:, :2]).amax(1) * context).clamp(max=image_size)
    low = (centre - side[:, None] / 2).clamp(min=0)
    low = torch.minimum(low, image_size - side[:, None])
    return torch.cat([low, low + side[:, None]], 1)


@torch.no_grad()
def small_thing_views(encode_image: Callable[[torch.Tensor], torch.Tensor],
                      maps_by_size: Dict[int, torch.Tensor], thing_embeddings: torch.Tensor,
                      data: EvalSet, input_size: int, max_side: float = 0.15,
                      context: float = 2.0) -> Dict[str, Dict[str, float]]:
    """Small things named from a zoomed crop and from the full view.

    Args:
        encode_image: ``B x 3 x s x s`` images -> ``B x D`` image embeddings (the CLIP's).
        maps_by_size: per evaluation size, the ``N x D x h x w`` full-view dense maps.
        thing_embeddings: ``20 x D`` text embeddings of :data:`THING_CLASSES`.
        input_size: the side each crop is resized to (the CLIP's native size).
        max_side: a thing is small when its box side is at most this share of the image side.
        context: a crop's side, in units of the thing's longer box side.

    Returns:
        ``crop``: the crops' embeddings; ``roi_<size>``: RoIAlign (1 x 1) features of the same
        boxes on the full view at each size; each with ``top1``, ``colour``, ``shape`` (%)
        and ``count``.
    """
    size = data.images.shape[-1]
    index = small_things(data, max_side)
    boxes = [b[i] for b, i in zip(data.boxes, index)]
    labels = torch.cat([lab[i] for lab, i in zip(data.labels, index)])
    text = F.normalize(thing_embeddings.float(), dim=-1)

    def named(feats):
        return _named((F.normalize(feats.float(), dim=-1) @ text.t()).argmax(1), labels)

    crops = []
    for image, image_boxes in zip(data.images, boxes):
        for x1, y1, x2, y2 in crop_boxes(image_boxes, size, context).round().long().tolist():
            crops.append(resize_images(image[None, :, y1:y2, x1:x2], input_size)[0])
    out = {}
    if crops:
        crops = torch.stack(crops)
        out['crop'] = named(torch.cat([encode_image(crops[i:i + 64])
                                       for i in range(0, len(crops), 64)]))
    else:
        out['crop'] = _named(labels, labels)
    for eval_size, maps in maps_by_size.items():
        feats = region_features(maps.float(), boxes, maps.shape[-1] / size)
        out[f'roi_{eval_size}'] = named(feats)
    return out


def judge(measured: dict) -> Dict[str, dict]:
    """Each registered premise with its value, its bar and whether it is met.

    Args:
        measured: ``tokens_64`` (:func:`token_naming` at 64 px), ``clip_64`` and ``clip_192``
            (the toy evaluation of the full view), ``windows_192`` (of the native windows) and
            ``small_things`` (:func:`small_thing_views`).
    """
    t = THRESHOLDS
    views = measured['small_things']
    windows_gain = max(measured['windows_192'][k] - measured['clip_192'][k]
                       for k in ('unsup_miou', 'probe_miou'))
    rows = {
        'P1a thing tokens name the shape at 64 px (%)':
            (measured['tokens_64']['shape'], t['token_shape_64']),
        'P1b thing tokens name the class at 64 px (%)':
            (measured['tokens_64']['top1'], t['token_top1_64']),
        'P1c training-free OV seg mIoU at 64 px':
            (measured['clip_64']['ov_seg_miou'], t['ov_seg_64']),
        'P2a small things: crop top-1 - full-view RoI top-1 at 192 px':
            (views['crop']['top1'] - views['roi_192']['top1'], t['crop_gain_192']),
        'P2b native windows - full view at 192 px, best of unsup. / probe mIoU':
            (windows_gain, t['windows_gain_192']),
    }
    return {name: dict(value=value, bar=bar, met=bool(value >= bar))
            for name, (value, bar) in rows.items()}
