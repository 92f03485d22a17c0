"""The generated worlds ToyWorld runs on (docs/toyworld.md), and the sizes of a run.

A :class:`World` is a folder of configs, one per role (stage 0, stage 1, the stage-2 methods,
the F-ViT), and the protocols it is run with. How its scenes are drawn is written once, in its
stage-0 config (``train_dataloader.dataset.scene_cfg``); the datasets, the locality pairs and
the zero-shot scenes of a run are drawn with the same settings (:meth:`World.scene_cfg`).

* :data:`WORLD2`, "the second world": scenes drawn at 64 px and zoomed to the stage sizes.
* :data:`WORLD3`, "the third world": scenes drawn natively at 192 px with detail that only
  shows there (small things, a surface pattern per shape); the stage-0 CLIP sees them
  downsampled to its 64 px.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Sequence

from ..utils.paths import config_root


@dataclass
class Protocol:
    """Sizes of one ToyWorld run (iterations are optimizer steps)."""
    train_images: int = 2000
    val_images: int = 200
    stage0_iters: int = 800
    stage0_batch: int = 256
    refiner_iters: int = 200
    stage2_iters: int = 200
    fvit_iters: int = 300
    zero_shot_images: int = 500
    probe_images: int = 400
    locality_pairs: int = 100
    kmeans_restarts: int = 10
    eval_sizes: Sequence[int] = (64, 192)
    seeds: Sequence[int] = field(default_factory=lambda: (0, 1, 2, 3, 4))
    precision_check_seeds: Sequence[int] = (0, )


# the pipeline check (<= 15 minutes on an idle 2-core machine, fp32): every step, tiny schedules
QUICK_SIZES = dict(train_images=600, val_images=100, stage0_iters=60, stage0_batch=64,
                   refiner_iters=20, stage2_iters=15, fvit_iters=20, zero_shot_images=200,
                   probe_images=100, locality_pairs=20, kmeans_restarts=2, seeds=(0, ),
                   precision_check_seeds=())


@dataclass(frozen=True)
class World:
    """A generated world: its configs by role and the protocols it runs with.

    Attributes:
        name: the world's name (``toyworld2``), also the default work-dir name.
        config_dir: the folder of its configs under ``configs/``.
        configs: per role (``stage0``, ``refiner``, ``clipself``, ``regionclip``, ``sc_rla``,
            ``r_sc_rla``, ``fvit``) the config's file name in ``config_dir``.
        full: the decisive protocol.
        quick: the pipeline check.
    """
    name: str
    config_dir: str
    configs: Dict[str, str]
    full: Protocol
    quick: Protocol

    def config(self, role: str) -> str:
        """The path of the config of ``role``."""
        if role not in self.configs:
            raise KeyError(f'{self.name} has no {role!r} config; it has {sorted(self.configs)}')
        return osp.join(config_root(), self.config_dir, self.configs[role])

    def stage0_config(self):
        from mmengine.config import Config
        return Config.fromfile(self.config('stage0'))

    def arch(self) -> dict:
        """The toy CLIP's architecture (``clip_model`` of the stage-0 config)."""
        return self.stage0_config().model.clip_model.to_dict()

    def scene_cfg(self, **overrides):
        """How the world's scenes are drawn (:class:`~refclip_mm.datasets.synthetic.SceneConfig`
        of the stage-0 dataset), with ``overrides`` by field."""
        from ..datasets.synthetic import SceneConfig
        fields = self.stage0_config().train_dataloader.dataset.scene_cfg.to_dict()
        fields.update(overrides)
        return SceneConfig(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in fields.items()})

    def clip_size(self) -> int:
        """The stage-0 CLIP's native input size."""
        return int(self.arch()['vision_cfg']['image_size'])

    @property
    def native(self) -> bool:
        """True when scenes are drawn above the CLIP's size (not zoomed from it)."""
        return self.scene_cfg().image_size > self.clip_size()


_STAGES = dict(
    refiner='refiner_clip-toy_1xb16-200i_scenes-128.py',
    clipself='clipself_clip-toy_1xb8-200i_scenes-192.py',
    regionclip='regionclip_clip-toy_1xb8-200i_scenes-192.py',
    sc_rla='clipself-sc_clip-toy_1xb8-200i_scenes-192.py',
    r_sc_rla='clipself-rsc_clip-toy_1xb8-200i_scenes-192.py',
    fvit='fvit-faster-rcnn_clip-toy_1xb8-600i_scenes-192.py')

WORLD2 = World(
    'toyworld', 'toyworld',
    dict(stage0='stage0_clip-toy_1xb256-800i_scenes-64.py', **_STAGES),
    full=Protocol(), quick=Protocol(**QUICK_SIZES))

WORLD3 = World(
    'toyworld3', 'toyworld3',
    dict(stage0='stage0_clip-toy_1xb256-1000i_native-scenes-192to64.py'),
    full=Protocol(stage0_iters=1000), quick=Protocol(**QUICK_SIZES))

WORLDS: Dict[int, World] = {2: WORLD2, 3: WORLD3}


def get_world(number: int) -> World:
    if number not in WORLDS:
        raise ValueError(f'unknown world {number}; known: {sorted(WORLDS)}')
    return WORLDS[number]
