"""Image-caption pairs of synthetic scenes, rendered on the fly (stage-0 pre-training data)."""
from typing import Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .synthetic import (SEMANTIC_CLASSES, SceneConfig, crop_scene,  # noqa: F401 (re-export)
                        random_crop_box, render_scene)


@DATASETS.register_module()
class SyntheticCaptionDataset(BaseDataset):
    """``num_samples`` synthetic scenes with their captions, drawn when indexed.

    Item ``i`` is ``render_scene(np.random.default_rng([seed, i]), scene_cfg)``,
    so the pairs are the same in every epoch, run and worker; nothing is
    written to disk. Each item enters the pipeline as ``img`` (``H x W x 3``
    uint8, BGR like a loaded file), ``caption``, ``img_shape`` and ``ori_shape``.

    With ``crop``, item ``i`` is instead a random-resized crop of that scene
    (box drawn with ``default_rng([seed, i, 1])``), resized to ``out_size``
    (default: the scene size), and its caption names only what the crop shows:
    the background and the objects with at least ``min_visible`` of their
    visible pixels inside and at least ``min_pixels`` pixels in the resized
    view. A zoomed-in view of part of a scene is then in the training
    distribution. With ``full_view > 0``, that fraction of the items (drawn
    from the same generator) is the whole scene, resized and captioned alike:
    scenes rendered at a high resolution and shown downsampled, as a CLIP sees
    web photos.

    Args:
        num_samples: number of pairs (the dataset's length).
        seed: seed of the stream (use different seeds for train and val).
        scene_cfg: :class:`~refclip_mm.datasets.synthetic.SceneConfig` fields.
        crop: ``dict(scale=(0.25, 1.0), ratio=(0.75, 1.333), min_visible=0.5,
            min_pixels=0, out_size=None, full_view=0.0)`` (any subset of these keys) or
            ``None`` for whole scenes.
        pipeline: transforms, e.g. ``[dict(type='PackImageInputs', meta_keys=('caption',))]``.
    """
    METAINFO = dict(classes=SEMANTIC_CLASSES)

    def __init__(self, num_samples: int, seed: int = 0, scene_cfg: Optional[dict] = None,
                 crop: Optional[dict] = None, pipeline: Sequence[dict] = (), **kwargs):
        if int(num_samples) < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        unknown = set(scene_cfg or {}) - set(SceneConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f'unknown scene_cfg fields {sorted(unknown)}; known: '
                             f'{sorted(SceneConfig.__dataclass_fields__)}')
        self.crop = None
        if crop is not None:
            defaults = dict(scale=(0.25, 1.0), ratio=(0.75, 4 / 3), min_visible=0.5,
                            min_pixels=0, out_size=None, full_view=0.0)
            unknown = set(crop) - set(defaults)
            if unknown:
                raise ValueError(f'unknown crop keys {sorted(unknown)}; known: {sorted(defaults)}')
            self.crop = dict(defaults, **crop)
            low, high = self.crop['scale']
            if not 0 < low <= high <= 1:
                raise ValueError(f'crop scale must satisfy 0 < low <= high <= 1, got {low, high}')
            if not 0 <= self.crop['full_view'] <= 1:
                raise ValueError(f"crop full_view is a fraction in [0, 1], got "
                                 f"{self.crop['full_view']}")
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.scene_cfg = SceneConfig(**{k: tuple(v) if isinstance(v, list) else v
                                        for k, v in (scene_cfg or {}).items()})
        super().__init__(pipeline=list(pipeline), serialize_data=False, **kwargs)

    def load_data_list(self):
        return [dict(sample_idx=index) for index in range(self.num_samples)]

    def render(self, index: int):
        """The :class:`~refclip_mm.datasets.synthetic.Scene` of item ``index``."""
        return render_scene(np.random.default_rng([self.seed, int(index)]), self.scene_cfg)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        scene = self.render(info['sample_idx'])
        image, caption = scene.image, scene.caption
        if self.crop is not None:
            size = image.shape[0]
            rng = np.random.default_rng([self.seed, int(info['sample_idx']), 1])
            crop = self.crop
            if crop['full_view'] > 0 and rng.random() < crop['full_view']:
                box = (0, 0, size, size)
            else:
                box = random_crop_box(rng, size, crop['scale'], crop['ratio'])
            image, caption = crop_scene(scene, box, crop['out_size'] or size, crop['min_visible'],
                                        crop['min_pixels'])
        shape = image.shape[:2]
        info.update(img=np.ascontiguousarray(image[..., ::-1]), caption=caption,
                    img_shape=shape, ori_shape=shape)
        return info
