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
from typing import Dict, Optional, Sequence, Tuple

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
class Stage2Method:
    """A stage-2 method of a world.

    Attributes:
        role: its config's role in :attr:`World.configs`.
        name: its files' name (``towers/<name>_seed<s>.pth``, ``work/<name>_seed<s>``).
        refiner: for R-SC-RLA, the Refiner (a key of :attr:`World.refiners`) that follows the
            SCD teacher; ``None``: no Refiner.
    """
    role: str
    name: str
    refiner: Optional[str] = None


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
        methods: the stage-2 methods by table row, in table order.
        refiners: per Refiner (stage 1) its config role; the first is the main one, whose row
            is ``CLIP + Refiner`` (the others: ``CLIP + Refiner (<key>)``).
        detection_towers: the rows an F-ViT is trained on.
        detector_seeds: F-ViT runs per tower and seed (their mean is the tower's value).
        seed_free_rows: rows whose tower does not depend on the seed (the pixels, the stage-0
            CLIP): measured once, with the k-means and probe seed :data:`SEED_FREE_SEED`, and
            that measurement is every seed's value of the row.
    """
    name: str
    config_dir: str
    configs: Dict[str, str]
    full: Protocol
    quick: Protocol
    methods: Dict[str, Stage2Method]
    refiners: Dict[str, str]
    detection_towers: Tuple[str, ...] = ('CLIP', 'CLIPSelf', 'R-SC-RLA')
    detector_seeds: int = 1
    seed_free_rows: Tuple[str, ...] = ()

    @property
    def main_refiner(self) -> str:
        return next(iter(self.refiners))

    def refined_row(self, refiner: str) -> str:
        """The table row of the stage-0 CLIP followed by ``refiner``."""
        return REFINED if refiner == self.main_refiner else f'{REFINED} ({refiner})'

    def measured_seed(self, row: str, seed: int) -> int:
        """The seed whose measurement of ``row`` is ``seed``'s value of it."""
        return SEED_FREE_SEED if row in self.seed_free_rows else seed

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


# the row of the stage-0 CLIP followed by the main Refiner (claim 3a)
REFINED = 'CLIP + Refiner'
# the row whose every token is its own pixel patch (the locality floor)
PIXELS = 'Pixels'
# the k-means and probe seed of the rows measured once per run (World.seed_free_rows)
SEED_FREE_SEED = 0

_STAGES = dict(
    refiner='refiner_clip-toy_1xb16-200i_scenes-128.py',
    clipself='clipself_clip-toy_1xb8-200i_scenes-192.py',
    regionclip='regionclip_clip-toy_1xb8-200i_scenes-192.py',
    sc_rla='clipself-sc_clip-toy_1xb8-200i_scenes-192.py',
    r_sc_rla='clipself-rsc_clip-toy_1xb8-200i_scenes-192.py',
    fvit='fvit-faster-rcnn_clip-toy_1xb8-600i_scenes-192.py')

_METHODS = {'CLIPSelf': Stage2Method('clipself', 'clipself'),
            'RegionCLIP': Stage2Method('regionclip', 'regionclip'),
            'SC-RLA': Stage2Method('sc_rla', 'sc_rla')}

WORLD2 = World(
    'toyworld', 'toyworld',
    dict(stage0='stage0_clip-toy_1xb256-800i_scenes-64.py', **_STAGES),
    full=Protocol(), quick=Protocol(**QUICK_SIZES),
    methods=dict(_METHODS, **{'R-SC-RLA': Stage2Method('r_sc_rla', 'r_sc_rla', 'InfoNCE')}),
    refiners={'InfoNCE': 'refiner'})

# The third world trains both Refiners: the per-token cosine one the package ships (its R-SC-RLA
# is the main row) and the InfoNCE one the second world was registered with; the stages after
# stage 0 use the second world's configs (the pipeline points them at the world's scenes).
WORLD3 = World(
    'toyworld3', 'toyworld3',
    dict(stage0='stage0_clip-toy_1xb256-1000i_native-scenes-192to64.py',
         refiner='refiner-cosine_clip-toy_1xb16-200i_native-scenes-128.py',
         **{role: osp.join('..', 'toyworld', name) for role, name in _STAGES.items()
            if role != 'refiner'},
         refiner_infonce=osp.join('..', 'toyworld', _STAGES['refiner'])),
    full=Protocol(stage0_iters=1000), quick=Protocol(**QUICK_SIZES),
    methods=dict(_METHODS, **{
        'R-SC-RLA': Stage2Method('r_sc_rla', 'r_sc_rla', 'cosine'),
        'R-SC-RLA (InfoNCE)': Stage2Method('r_sc_rla', 'r_sc_rla_infonce', 'InfoNCE')}),
    refiners={'cosine': 'refiner', 'InfoNCE': 'refiner_infonce'},
    detector_seeds=2, seed_free_rows=(PIXELS, 'CLIP'))

WORLDS: Dict[int, World] = {2: WORLD2, 3: WORLD3}


def get_world(number: int) -> World:
    if number not in WORLDS:
        raise ValueError(f'unknown world {number}; known: {sorted(WORLDS)}')
    return WORLDS[number]
