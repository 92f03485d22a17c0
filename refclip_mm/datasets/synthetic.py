"""Synthetic scenes: a small, deterministic world of textured backgrounds and coloured shapes.

Used by the demo, the tiny configs and the tests (no dataset can be downloaded
here). A scene is a square RGB image made of one "stuff" background (a colour and a
texture: stripes, dots, waves or blocks) and a few "thing" objects (a shape in
a colour, at a random scale) that may occlude each other. Each scene comes with
instance boxes and masks, a semantic label map and a caption.

Label ids of the semantic map: ``0 .. len(STUFF)-1`` are stuff classes,
``len(STUFF) + k`` is thing category ``k``. COCO category ids are ``k + 1``.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

SHAPES = ('square', 'circle', 'triangle', 'ring', 'cross')
COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (220, 40, 40), 'green': (40, 180, 60), 'blue': (40, 70, 220),
    'yellow': (235, 210, 40),
}
STUFF: Dict[str, Tuple[int, int, int]] = {
    'grass': (70, 120, 50), 'sand': (200, 180, 130), 'water': (60, 110, 160),
    'stone': (120, 120, 120),
}
THING_CLASSES: Tuple[str, ...] = tuple(f'{c} {s}' for s in SHAPES for c in COLOURS)
# The texture of each stuff class (see ``_stuff_texture``).
STUFF_TEXTURES: Dict[str, str] = {
    'grass': 'stripes', 'sand': 'dots', 'water': 'waves', 'stone': 'blocks'}
STUFF_CLASSES: Tuple[str, ...] = tuple(STUFF)
SEMANTIC_CLASSES: Tuple[str, ...] = STUFF_CLASSES + THING_CLASSES
# Every 4th thing category is held out as "novel" for open-vocabulary detection.
NOVEL_THING_CLASSES: Tuple[str, ...] = THING_CLASSES[3::4]


@dataclass
class SceneConfig:
    """How scenes are drawn.

    Args:
        image_size: side of the square image in pixels.
        objects_per_image: inclusive range of the number of things.
        object_scale: inclusive range of an object's side, as a fraction of the image.
        texture_noise: std of the background's per-pixel noise (0-255 scale).
        texture_contrast: amplitude of the stuff textures (0-255 scale; 0: flat colour).
        thing_pattern_cycles: 0 paints things in a flat colour (with noise); ``n > 0`` gives
            each shape its own surface pattern (:data:`THING_PATTERNS`) with ``n`` periods
            across the object, so a patch of a thing shows what it is, and a small thing's
            pattern is finer than a large one's (it shows only when the thing is seen large).
        pattern_contrast: amplitude of the thing patterns (0-255 scale).
        fast_draw: draw the noise in float32 and each thing's shading for its box only
            (several times faster at high resolution); ``False`` keeps the draw the 64 px
            worlds were made with, so their scenes stay what they were.
    """
    image_size: int = 64
    objects_per_image: Tuple[int, int] = (1, 3)
    object_scale: Tuple[float, float] = (0.25, 0.5)
    texture_noise: float = 12.0
    texture_contrast: float = 25.0
    thing_pattern_cycles: float = 0.0
    pattern_contrast: float = 45.0
    fast_draw: bool = False


@dataclass
class Scene:
    """One rendered scene.

    Attributes:
        image: H x W x 3 uint8.
        semantic: H x W uint8 semantic labels (see module docstring).
        instances: list of dicts with ``category`` (thing index), ``bbox``
            (x, y, w, h in pixels) and ``mask`` (H x W bool, visible part).
        caption: a sentence naming the background and the objects.
        stuff_id: the background class.
    """
    image: np.ndarray
    semantic: np.ndarray
    instances: List[dict] = field(default_factory=list)
    caption: str = ''
    stuff_id: int = -1


def _shape_mask(shape: str, size: int) -> np.ndarray:
    """A size x size boolean mask of ``shape``."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    c = size / 2
    r = np.hypot(xx - c, yy - c)
    if shape == 'square':
        return np.ones((size, size), bool)
    if shape == 'circle':
        return r <= c
    if shape == 'ring':
        return (r <= c) & (r >= 0.55 * c)
    if shape == 'triangle':
        return yy >= size - 2 * np.minimum(xx, size - xx)  # apex at the top centre
    if shape == 'cross':
        band = size / 3
        return (np.abs(xx - c) <= band / 2) | (np.abs(yy - c) <= band / 2)
    raise ValueError(f'unknown shape {shape!r}; known: {SHAPES}')


# The surface pattern of each shape (with ``SceneConfig.thing_pattern_cycles > 0``).
THING_PATTERNS: Dict[str, str] = {
    'square': 'checks', 'circle': 'dots', 'triangle': 'diagonal stripes',
    'ring': 'horizontal stripes', 'cross': 'vertical stripes'}


def _thing_pattern(shape: str, side: int, cycles: float) -> np.ndarray:
    """A side x side pattern in {-1, 1} of ``shape``'s surface, ``cycles`` periods across it."""
    v, u = (np.mgrid[0:side, 0:side] + 0.5) * (2 * np.pi * cycles / side)
    pattern = THING_PATTERNS[shape]
    if pattern == 'checks':
        wave = np.sin(u) * np.sin(v)
    elif pattern == 'dots':
        return np.where((np.cos(u) > 0.3) & (np.cos(v) > 0.3), 1.0, -1.0)
    elif pattern == 'diagonal stripes':
        wave = np.sin((u + v) / np.sqrt(2))
    elif pattern == 'horizontal stripes':
        wave = np.sin(v)
    else:
        wave = np.sin(u)
    return np.where(wave >= 0, 1.0, -1.0)


def _stuff_texture(texture: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size pattern in [-1, 1] with a random phase (and orientation for stripes)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    if texture == 'stripes':
        angle = rng.uniform(-0.4, 0.4)
        return np.sign(np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / 6 + phase))
    if texture == 'dots':
        return np.where((np.sin(xx * 2 * np.pi / 5 + phase) > 0.6)
                        & (np.sin(yy * 2 * np.pi / 5 + phase) > 0.6), 1.0, -0.3)
    if texture == 'waves':
        return np.sin(yy * 2 * np.pi / 10 + 2 * np.sin(xx * 2 * np.pi / 16) + phase)
    if texture == 'blocks':
        cell = 8
        offset = rng.integers(cell, size=2)
        return np.where(((yy + offset[0]) // cell + (xx + offset[1]) // cell) % 2 == 0, 1.0, -1.0)
    raise ValueError(f'unknown texture {texture!r}; known: {sorted(set(STUFF_TEXTURES.values()))}')


@dataclass
class SceneLayout:
    """Everything random about a scene, drawn before anything is painted.

    Attributes:
        stuff_id: background class.
        background: H x W x 3 float32 background (colour, texture and noise).
        objects: per thing, in painting order, a dict with ``category``,
            ``side``, ``x0``, ``y0`` and ``shade`` (side x side x 3 float32: noise and
            pattern added to the thing's colour over its box).
    """
    stuff_id: int
    background: np.ndarray
    objects: List[dict] = field(default_factory=list)


def _noise(rng: np.random.Generator, std: float, shape, fast: bool) -> np.ndarray:
    """Gaussian float32 noise; ``fast`` draws it in float32 (another stream than float64)."""
    if fast:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    return rng.normal(0, std, shape).astype(np.float32)


def sample_layout(rng: np.random.Generator, cfg: SceneConfig = SceneConfig()) -> SceneLayout:
    """Draw a scene's background and objects with ``rng`` (see :func:`paint_scene`)."""
    size = cfg.image_size
    stuff_id = int(rng.integers(len(STUFF)))
    stuff = STUFF_CLASSES[stuff_id]
    base = np.array(STUFF[stuff], np.float32)
    image = base + _noise(rng, cfg.texture_noise, (size, size, 3), cfg.fast_draw)
    if cfg.texture_contrast:
        pattern = _stuff_texture(STUFF_TEXTURES[stuff], size, rng).astype(np.float32)
        image += cfg.texture_contrast * pattern[..., None]
    objects = []
    for _ in range(int(rng.integers(cfg.objects_per_image[0], cfg.objects_per_image[1] + 1))):
        category = int(rng.integers(len(THING_CLASSES)))
        side = max(4, int(round(size * rng.uniform(*cfg.object_scale))))
        x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        if cfg.fast_draw:
            shade = _noise(rng, cfg.texture_noise / 2, (side, side, 3), True)
        else:
            shade = _noise(rng, cfg.texture_noise / 2, (size, size, 3), False)[
                y0:y0 + side, x0:x0 + side]
        if cfg.thing_pattern_cycles > 0:
            shape = SHAPES[category // len(COLOURS)]
            shade = shade + (cfg.pattern_contrast * _thing_pattern(
                shape, side, cfg.thing_pattern_cycles)[..., None]).astype(np.float32)
        objects.append(dict(category=category, side=side, x0=x0, y0=y0, shade=shade))
    return SceneLayout(stuff_id, image, objects)


def paint_scene(layout: SceneLayout) -> Scene:
    """Paint a layout: objects in order over the background, later ones occluding earlier ones.

    An object left with fewer than 4 visible pixels is repainted as background.
    """
    image = layout.background.copy()
    size = image.shape[0]
    stuff_id = layout.stuff_id
    semantic = np.full((size, size), stuff_id, np.uint8)
    owner = np.full((size, size), -1, np.int64)  # index of the visible instance per pixel
    for index, obj in enumerate(layout.objects):
        category, side, x0, y0 = obj['category'], obj['side'], obj['x0'], obj['y0']
        shape_mask = _shape_mask(SHAPES[category // len(COLOURS)], side)
        mask = np.zeros((size, size), bool)
        mask[y0:y0 + side, x0:x0 + side] = shape_mask
        colour = np.array(COLOURS[THING_CLASSES[category].split(' ')[0]], np.float32)
        image[mask] = (colour + obj['shade'])[shape_mask]
        semantic[mask] = len(STUFF) + category
        owner[mask] = index
    instances = []
    for index, obj in enumerate(layout.objects):
        visible = owner == index
        if visible.sum() < 4:  # (almost) hidden by later objects: repaint its rest as background
            image[visible] = layout.background[visible]
            semantic[visible] = stuff_id
            continue
        ys, xs = np.nonzero(visible)
        bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                float(ys.max() - ys.min() + 1)]
        instances.append(dict(category=obj['category'], bbox=bbox, mask=visible))
    caption = scene_caption([i['category'] for i in instances], stuff_id)
    return Scene(np.clip(image, 0, 255).astype(np.uint8), semantic, instances, caption, stuff_id)


def scene_caption(categories: Sequence[int], stuff_id: int) -> str:
    """The caption of a scene (or crop) showing these thing categories on this background."""
    names = sorted({THING_CLASSES[c] for c in categories})
    return f'a photo of {" and ".join("a " + n for n in names) or "nothing"} on {STUFF_CLASSES[stuff_id]}'


def random_crop_box(rng: np.random.Generator, size: int, scale: Sequence[float],
                    ratio: Sequence[float]):
    """``(x, y, w, h)`` of a random-resized-crop box in a ``size x size`` image.

    Area fraction uniform in ``scale``, aspect ``w / h`` log-uniform in ``ratio``,
    clipped to the image; position uniform.
    """
    area = rng.uniform(*scale) * size * size
    aspect = float(np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1]))))
    w = int(round(min(size, max(1.0, np.sqrt(area * aspect)))))
    h = int(round(min(size, max(1.0, np.sqrt(area / aspect)))))
    x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
    return x, y, w, h


def crop_scene(scene: Scene, box, out_size: int, min_visible: float, min_pixels: float = 0):
    """``(image, caption)`` of a crop resized to ``out_size`` (area-averaged when it shrinks,
    bilinear when it grows): the caption names the objects that have at least ``min_visible``
    of their visible pixels inside the crop and cover at least ``min_pixels`` pixels of the
    resized crop (a speck the view cannot show is not named)."""
    import cv2
    x, y, w, h = box
    shrink = out_size < max(w, h)
    image = cv2.resize(scene.image[y:y + h, x:x + w], (out_size, out_size),
                       interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    scale = out_size * out_size / float(w * h)
    shown = []
    for inst in scene.instances:
        inside = inst['mask'][y:y + h, x:x + w].sum()
        if inside >= min_visible * inst['mask'].sum() and inside * scale >= min_pixels:
            shown.append(inst['category'])
    return image, scene_caption(shown, scene.stuff_id)


def render_scene(rng: np.random.Generator, cfg: SceneConfig = SceneConfig()) -> Scene:
    """Draw one scene with the random generator ``rng``."""
    return paint_scene(sample_layout(rng, cfg))


def render_scene_pair(rng: np.random.Generator, cfg: SceneConfig = SceneConfig(),
                      change: str = 'swap') -> Tuple[Scene, Scene, np.ndarray]:
    """Two scenes that differ in exactly one object, and the mask of the pixels that differ.

    The last-painted object (never occluded) is either given another category
    (``'swap'``: another shape and colour at the same place and size) or removed
    (``'remove'``); background, noise and the other objects are the same.

    Returns:
        ``(scene, changed scene, H x W bool mask of differing pixels)``.
    """
    if change not in ('swap', 'remove'):
        raise ValueError(f"change must be 'swap' or 'remove', got {change!r}")
    layout = sample_layout(rng, cfg)
    other = SceneLayout(layout.stuff_id, layout.background, [dict(o) for o in layout.objects])
    last = other.objects[-1]
    if change == 'remove':
        other.objects.pop()
    else:
        old = last['category']
        choices = [c for c in range(len(THING_CLASSES))
                   if c // len(COLOURS) != old // len(COLOURS) and c % len(COLOURS) != old % len(COLOURS)]
        last['category'] = int(rng.choice(choices))
    a, b = paint_scene(layout), paint_scene(other)
    return a, b, (a.image != b.image).any(-1)


def _coco_categories() -> List[dict]:
    return [dict(id=k + 1, name=name, supercategory='shape',
                 split='novel' if name in NOVEL_THING_CLASSES else 'base')
            for k, name in enumerate(THING_CLASSES)]


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def write_dataset(root: str, splits: Dict[str, int], seed: int = 0,
                  cfg: SceneConfig = SceneConfig(), image_ext: str = '.jpg') -> Dict[str, dict]:
    """Write scenes as a COCO-format and an mmseg-format dataset under ``root``.

    Layout (for each split name, e.g. ``train`` / ``val``)::

        root/images/{split}/{id:06d}.jpg            the images (shared by both formats)
        root/annotations/instances_{split}.json     COCO instances (boxes, RLE masks)
        root/annotations/captions_{split}.json      COCO captions
        root/semantic/{split}/{id:06d}.png          semantic label maps (uint8)

    Args:
        root: output folder (created).
        splits: number of images per split name.
        seed: base seed; each split uses its own stream so sizes don't interact.
        cfg: scene drawing options.
        image_ext: ``.jpg`` (default) or ``.png`` (lossless).

    Returns:
        per split, counts of what was written (images, instances).
    """
    from PIL import Image
    summary = {}
    image_id = 0
    for split_index, (split, count) in enumerate(sorted(splits.items())):
        rng = np.random.default_rng([seed, split_index])
        for sub in ('images', 'semantic'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        images, annotations, captions = [], [], []
        for _ in range(count):
            image_id += 1
            scene = render_scene(rng, cfg)
            name = f'{image_id:06d}'
            Image.fromarray(scene.image).save(osp.join(root, 'images', split, name + image_ext),
                                              quality=95)
            Image.fromarray(scene.semantic).save(osp.join(root, 'semantic', split, name + '.png'))
            images.append(dict(id=image_id, file_name=name + image_ext,
                               width=cfg.image_size, height=cfg.image_size))
            captions.append(dict(id=image_id, image_id=image_id, caption=scene.caption))
            for inst in scene.instances:
                annotations.append(dict(
                    id=len(annotations) + 1 + image_id * 100, image_id=image_id,
                    category_id=inst['category'] + 1, bbox=inst['bbox'],
                    area=float(inst['mask'].sum()), iscrowd=0, segmentation=_rle(inst['mask'])))
        categories = _coco_categories()
        _write_json(osp.join(root, 'annotations', f'instances_{split}.json'),
                    dict(images=images, annotations=annotations, categories=categories))
        _write_json(osp.join(root, 'annotations', f'captions_{split}.json'),
                    dict(images=images, annotations=captions))
        summary[split] = dict(images=len(images), instances=len(annotations))
    _write_json(osp.join(root, 'classes.json'),
                dict(thing=list(THING_CLASSES), stuff=list(STUFF_CLASSES),
                     semantic=list(SEMANTIC_CLASSES), novel=list(NOVEL_THING_CLASSES)))
    return summary


def _write_json(path: str, data: dict) -> None:
    """Write JSON atomically (a temporary file renamed into place)."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f)
    os.replace(tmp, path)


def dataset_is_complete(root: str, splits: Sequence[str]) -> bool:
    """True if ``write_dataset`` finished writing every split under ``root``."""
    return osp.isfile(osp.join(root, 'classes.json')) and all(
        osp.isfile(osp.join(root, 'annotations', f'instances_{s}.json')) for s in splits)


def semantic_palette(num_classes: Optional[int] = None) -> List[List[int]]:
    """Colours for the semantic classes (stuff colours, then thing colours)."""
    palette = [list(STUFF[s]) for s in STUFF_CLASSES] + [list(COLOURS[t.split(' ')[0]])
                                                         for t in THING_CLASSES]
    return palette[:num_classes] if num_classes else palette
