"""Image-caption pairs of synthetic scenes, rendered on the fly (stage-0 pre-training data)."""
from typing import Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .synthetic import SEMANTIC_CLASSES, SceneConfig, render_scene


@DATASETS.register_module()
class SyntheticCaptionDataset(BaseDataset):
    """``num_samples`` synthetic scenes with their captions, drawn when indexed.

    Item ``i`` is ``render_scene(np.random.default_rng([seed, i]), scene_cfg)``,
    so the pairs are the same in every epoch, run and worker; nothing is
    written to disk. Each item enters the pipeline as ``img`` (``H x W x 3``
    uint8, BGR like a loaded file), ``caption``, ``img_shape`` and ``ori_shape``.

    Args:
        num_samples: number of pairs (the dataset's length).
        seed: seed of the stream (use different seeds for train and val).
        scene_cfg: :class:`~refclip_mm.datasets.synthetic.SceneConfig` fields.
        pipeline: transforms, e.g. ``[dict(type='PackImageInputs', meta_keys=('caption',))]``.
    """
    METAINFO = dict(classes=SEMANTIC_CLASSES)

    def __init__(self, num_samples: int, seed: int = 0, scene_cfg: Optional[dict] = None,
                 pipeline: Sequence[dict] = (), **kwargs):
        if int(num_samples) < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        unknown = set(scene_cfg or {}) - set(SceneConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f'unknown scene_cfg fields {sorted(unknown)}; known: '
                             f'{sorted(SceneConfig.__dataclass_fields__)}')
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
        shape = scene.image.shape[:2]
        info.update(img=np.ascontiguousarray(scene.image[..., ::-1]), caption=scene.caption,
                    img_shape=shape, ori_shape=shape)
        return info
