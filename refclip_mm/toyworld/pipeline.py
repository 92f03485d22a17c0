"""The ToyWorld pipeline (docs/toyworld.md): the whole method on a generated world, measured.

Steps (each is skipped when its output exists, so an interrupted run continues where it
stopped; delete a file to redo its step):

1. data: generated scenes (COCO instances + captions, semantic maps) in <work-dir>/data;
2. stage 0: contrastive pre-training of the toy CLIP (configs/toyworld/stage0_*.py) on
   scene-caption pairs drawn on the fly; exported as clip_toy.pth; zero-shot top-1 of
   single-object scenes; text embeddings of the class names;
3. per seed: stage 1 (the Refiner on the frozen stage-0 CLIP), then stage 2 with CLIPSelf,
   RegionCLIP, SC-RLA (CLIPSelf + SCD) and R-SC-RLA (CLIPSelf + SCD with the Refiner);
4. per tower and seed: unsupervised-segmentation mIoU, training-free open-vocabulary
   segmentation mIoU, region top-1 on boxes and masks, and a tiny F-ViT's novel AP50;
5. the table (mean +- std over seeds; table.md, results.json) and a panel of the towers'
   dense features (panel.png).

Training runs go through :mod:`refclip_mm.apis`; schedules are fitted by meaning
(:func:`~refclip_mm.apis.fit_schedule`) and hooks set by type, never by list position.
"""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Dict, List, Optional, Sequence

from ..apis import (fit_schedule, last_checkpoint, load_config, set_hook_options, train,
                    train_then_test)
from ..utils.paths import config_root

CONFIG_DIR = osp.join(config_root(), 'toyworld')
CONFIGS = dict(
    stage0=osp.join(CONFIG_DIR, 'stage0_clip-toy_1xb64-1200i_scenes-64.py'),
    refiner=osp.join(CONFIG_DIR, 'refiner_clip-toy_1xb16-300i_scenes-64.py'),
    clipself=osp.join(CONFIG_DIR, 'clipself_clip-toy_1xb16-300i_scenes-64.py'),
    regionclip=osp.join(CONFIG_DIR, 'regionclip_clip-toy_1xb16-300i_scenes-64.py'),
    sc_rla=osp.join(CONFIG_DIR, 'clipself-sc_clip-toy_1xb16-300i_scenes-64.py'),
    r_sc_rla=osp.join(CONFIG_DIR, 'clipself-rsc_clip-toy_1xb16-300i_scenes-64.py'),
    fvit=osp.join(CONFIG_DIR, 'fvit-faster-rcnn_clip-toy_1xb8-600i_scenes-64.py'),
)
# stage-2 methods: the row label in the table, and the config key
METHODS = {'CLIPSelf': 'clipself', 'RegionCLIP': 'regionclip', 'SC-RLA': 'sc_rla',
           'R-SC-RLA': 'r_sc_rla'}
METRICS = (('unsup_miou', 'unsup. seg mIoU'), ('ov_seg_miou', 'OV seg mIoU'),
           ('box_top1', 'box top-1'), ('mask_top1', 'mask top-1'),
           ('novel_ap50', 'novel AP50'), ('base_ap50', 'base AP50'))
# region classification split into its parts: the predicted class has the right colour / shape
REGION_PARTS = (('box_colour', 'box: colour right'), ('box_shape', 'box: shape right'),
                ('mask_colour', 'mask: colour right'), ('mask_shape', 'mask: shape right'))


@dataclass
class Protocol:
    """Sizes of one ToyWorld run (iterations are optimizer steps)."""
    train_images: int = 2000
    val_images: int = 200
    stage0_iters: int = 1200
    refiner_iters: int = 200
    stage2_iters: int = 200
    fvit_iters: int = 300
    zero_shot_images: int = 500
    seeds: Sequence[int] = field(default_factory=lambda: (0, 1, 2))


FULL = Protocol()
QUICK = Protocol(train_images=600, val_images=100, stage0_iters=300, refiner_iters=60,
                 stage2_iters=60, fvit_iters=120, zero_shot_images=200, seeds=(0, ))


def scaled(protocol: Protocol, iters: float, images: float) -> Protocol:
    """``protocol`` with every schedule and dataset size multiplied (at least 2 each)."""
    def n(value, factor):
        return max(2, int(round(value * factor)))
    return replace(protocol, train_images=n(protocol.train_images, images),
                   val_images=n(protocol.val_images, images),
                   zero_shot_images=n(protocol.zero_shot_images, images),
                   stage0_iters=n(protocol.stage0_iters, iters),
                   refiner_iters=n(protocol.refiner_iters, iters),
                   stage2_iters=n(protocol.stage2_iters, iters),
                   fvit_iters=n(protocol.fvit_iters, iters))


class Run:
    """Paths of a ToyWorld run and the cached-step logic."""

    def __init__(self, work_dir: str, protocol: Protocol, verbose: bool = False):
        self.work = osp.abspath(work_dir)
        self.protocol = protocol
        self.verbose = verbose
        self.data = osp.join(self.work, 'data')
        self.clip = osp.join(self.work, 'clip_toy.pth')
        self.text = {kind: osp.join(self.work, f'text_{kind}.pth')
                     for kind in ('things', 'semantic', 'concepts')}
        self.results = osp.join(self.work, 'results')
        self.timings: Dict[str, float] = {}
        os.makedirs(self.results, exist_ok=True)

    def path(self, *parts: str) -> str:
        return osp.join(self.work, *parts)

    def log_file(self, work: str) -> Optional[str]:
        """Where a training run's console output goes (``None``: the console, when verbose)."""
        return None if self.verbose else osp.join(work, 'console.log')

    def refiner(self, seed: int) -> str:
        return self.path('refiners', f'refiner_seed{seed}.pth')

    def tower(self, method: str, seed: int) -> str:
        return self.path('towers', f'{METHODS[method]}_seed{seed}.pth')

    def step(self, name: str, output: str, fn) -> None:
        """Run ``fn`` unless ``output`` exists; time it."""
        if osp.exists(output):
            print(f'[toyworld] {name}: cached ({osp.relpath(output, self.work)})', flush=True)
            return
        print(f'\n[toyworld] === {name} ===', flush=True)
        start = time.time()
        fn()
        if not osp.exists(output):
            raise RuntimeError(f'step {name!r} finished without writing {output}')
        self.timings[name] = time.time() - start
        print(f'[toyworld] {name}: {self.timings[name]:.0f} s', flush=True)


def write_json(path: str, data) -> None:
    from refclip_mm.utils.atomic import atomic_write
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=1).encode()))


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def toy_arch() -> dict:
    from mmengine.config import Config
    return Config.fromfile(CONFIGS['stage0']).toy_clip.to_dict()


# ------------------------------------------------------------------------------------ steps
def make_data(run: Run) -> None:
    from refclip_mm.datasets.synthetic import SceneConfig, dataset_is_complete, write_dataset
    if not dataset_is_complete(run.data, ('train', 'val')):
        write_dataset(run.data, dict(train=run.protocol.train_images, val=run.protocol.val_images),
                      seed=0, cfg=SceneConfig(object_scale=(0.2, 0.55)))


def stage0(run: Run) -> None:
    from refclip_mm.models.trainers import export_stage0_checkpoint
    iters = run.protocol.stage0_iters
    work = run.path('stage0')
    cfg = fit_schedule(load_config(CONFIGS['stage0'], work_dir=work), iters,
                       warmup=max(1, min(100, iters // 10)))
    start = time.time()
    train(cfg, log_file=run.log_file(work))
    seconds = time.time() - start
    export_stage0_checkpoint(last_checkpoint(work), run.clip)
    write_json(run.path('stage0.json'), dict(iters=iters, seconds=seconds,
                                             images_per_s=iters * 64 / seconds))


def prompt_templates(kind: str) -> List[str]:
    """Prompts in the captions' own grammar ("a photo of a <thing> on <stuff>"), ensembled over
    the other slot: a thing class is averaged over the stuff classes and vice versa."""
    from refclip_mm.datasets.synthetic import STUFF_CLASSES, THING_CLASSES
    if kind == 'thing':
        return [f'a photo of a {{}} on {stuff}' for stuff in STUFF_CLASSES]
    return [f'a photo of a {thing} on {{}}' for thing in THING_CLASSES]


def text_embeddings(run: Run) -> None:
    import torch

    from refclip_mm.clip import build_text_tower, make_class_embeddings, save_class_embeddings
    from refclip_mm.clip.text import ClassEmbeddings
    from refclip_mm.datasets.synthetic import STUFF_CLASSES, THING_CLASSES
    text = build_text_tower(toy_arch(), run.clip)
    things = make_class_embeddings(text, list(THING_CLASSES), prompt_templates('thing'),
                                   model='toyworld stage 0')
    stuff = make_class_embeddings(text, list(STUFF_CLASSES), prompt_templates('stuff'),
                                  model='toyworld stage 0')
    semantic = ClassEmbeddings(list(STUFF_CLASSES) + list(THING_CLASSES),
                               torch.cat([stuff.embeddings, things.embeddings]),
                               things.background, things.templates + stuff.templates,
                               'toyworld stage 0')
    save_class_embeddings(run.text['things'], things)
    save_class_embeddings(run.text['semantic'], semantic)
    save_class_embeddings(run.text['concepts'], semantic)


def zero_shot(run: Run) -> None:
    from refclip_mm.clip import build_image_tower, load_class_embeddings
    from .evaluate import zero_shot_accuracy
    tower = build_image_tower(toy_arch(), run.clip)
    things = load_class_embeddings(run.text['things']).embeddings
    result = read_json(run.path('stage0.json'))
    result['zero_shot'] = zero_shot_accuracy(tower.encode_image, things,
                                             run.protocol.zero_shot_images, seed=123)
    print(f'[toyworld] stage-0 zero-shot on single-object scenes: {describe_zero_shot(result)}',
          flush=True)
    write_json(run.path('stage0_eval.json'), result)


def describe_zero_shot(result: dict) -> str:
    shot = result['zero_shot']
    return (f'top-1 {shot["top1"]:.1f}% (chance 5%), colour {shot["colour"]:.1f}% (25%), '
            f'shape {shot["shape"]:.1f}% (20%)')


def refiner(run: Run, seed: int) -> None:
    from refclip_mm.models.backbones.refiner_backbone import export_refiner
    work = run.path('work', f'refiner_seed{seed}')
    cfg = load_config(CONFIGS['refiner'], work_dir=work, cfg_options={
        'model.pretrained': run.clip, 'randomness.seed': seed,
        'train_dataloader.dataset.data_root': run.data})
    train(fit_schedule(cfg, run.protocol.refiner_iters), log_file=run.log_file(work))
    os.makedirs(osp.dirname(run.refiner(seed)), exist_ok=True)
    export_refiner(last_checkpoint(work), run.refiner(seed))


def stage2(run: Run, method: str, seed: int) -> None:
    from refclip_mm.models.trainers.convert import convert_stage2_checkpoint
    iters = run.protocol.stage2_iters
    work = run.path('work', f'{METHODS[method]}_seed{seed}')
    options = {'model.pretrained': run.clip, 'randomness.seed': seed,
               'train_dataloader.dataset.data_root': run.data}
    if method == 'RegionCLIP':
        options['model.concepts'] = run.text['concepts']
    cfg = load_config(CONFIGS[METHODS[method]], work_dir=work, cfg_options=options)
    if method == 'R-SC-RLA':
        set_hook_options(cfg, 'SCDDistillHook', refiner=run.refiner(seed))
    train(fit_schedule(cfg, iters, warmup=max(1, iters // 10)), log_file=run.log_file(work))
    os.makedirs(osp.dirname(run.tower(method, seed)), exist_ok=True)
    convert_stage2_checkpoint(last_checkpoint(work), run.tower(method, seed))


def dense_fn_of(run: Run, row: str, seed: int):
    """``images -> B x D x h x w`` projected dense maps of a table row's tower."""
    import torch

    from refclip_mm.clip import build_image_tower
    from refclip_mm.evaluation import find_dense_fn
    from refclip_mm.registry import MODELS
    torch.manual_seed(seed)
    if row == 'CLIP + Refiner':
        module = MODELS.build(dict(type='refclip_mm.RefinerBackbone', clip_model=toy_arch(),
                                   pretrained=run.clip, refiner_checkpoint=run.refiner(seed),
                                   out_indices=()))
    else:
        module = build_image_tower(toy_arch(), run.clip if row == 'CLIP' else run.tower(row, seed))
    module.eval()
    return find_dense_fn(module)


def evaluate(run: Run, row: str, seed: int, out: str, data_cache: dict) -> None:
    from refclip_mm.clip import load_class_embeddings
    from .evaluate import evaluate_tower, load_eval_set
    if 'val' not in data_cache:
        data_cache['val'] = load_eval_set(run.data, 'val')
    metrics = evaluate_tower(dense_fn_of(run, row, seed), data_cache['val'],
                             load_class_embeddings(run.text['semantic']).embeddings,
                             load_class_embeddings(run.text['things']).embeddings, seed=seed)
    print(f'[toyworld] {row} seed {seed}: ' + ', '.join(f'{k} {v:.1f}' for k, v in metrics.items()),
          flush=True)
    write_json(out, metrics)


def fvit(run: Run, row: str, seed: int, out: str) -> None:
    weights = run.clip if row == 'CLIP' else run.tower(row, seed)
    work = run.path('work', f'fvit_{row.lower().replace(" ", "")}_seed{seed}')
    root = run.data.rstrip('/') + '/'
    iters = run.protocol.fvit_iters
    options = {'model.backbone.pretrained': weights,
               'model.roi_head.bbox_head.class_embeddings': run.text['things'],
               'train_dataloader.dataset.data_root': root, 'randomness.seed': seed}
    for split in ('val', 'test'):
        options[f'{split}_dataloader.dataset.data_root'] = root
        options[f'{split}_evaluator.ann_file'] = f'{root}annotations/instances_val.json'
    cfg = fit_schedule(load_config(CONFIGS['fvit'], work_dir=work, cfg_options=options), iters,
                       warmup=max(1, min(50, iters // 10)))
    metrics = train_then_test(cfg, log_file=run.log_file(work))
    found = {k.split('/')[-1][:-len('_ap50')] + '_ap50': float(v) * 100
             for k, v in metrics.items() if k.endswith(('base_ap50', 'novel_ap50'))}
    if set(found) != {'base_ap50', 'novel_ap50'}:
        raise RuntimeError(f'OVCocoMetric returned {sorted(metrics)}; expected base/novel AP50')
    print(f'[toyworld] F-ViT on {row} seed {seed}: novel AP50 {found["novel_ap50"]:.1f}, '
          f'base AP50 {found["base_ap50"]:.1f}', flush=True)
    write_json(out, found)


# ------------------------------------------------------------------------------------ report
def rows_of(methods: Sequence[str]) -> List[str]:
    return ['CLIP', 'CLIP + Refiner', *methods]


def collect(run: Run, methods: Sequence[str], seeds: Sequence[int]) -> Dict[str, Dict[str, list]]:
    """Per row and metric, the values of every seed (missing files are errors)."""
    table: Dict[str, Dict[str, list]] = {}
    for row in rows_of(methods):
        values: Dict[str, list] = {}
        for seed in seeds:
            for kind in ('eval', 'fvit'):
                path = osp.join(run.results, f'{kind}_{slug(row)}_seed{seed}.json')
                if osp.exists(path):
                    for key, value in read_json(path).items():
                        values.setdefault(key, []).append(value)
        table[row] = values
    return table


def slug(row: str) -> str:
    return row.lower().replace(' + ', '+').replace(' ', '_')


def format_table(table: Dict[str, Dict[str, list]], seeds: Sequence[int],
                 metrics=METRICS) -> str:
    from .evaluate import mean_std
    head = '| tower | ' + ' | '.join(title for _, title in metrics) + ' |'
    lines = [head, '|' + '---|' * (len(metrics) + 1)]
    for row, values in table.items():
        cells = []
        for key, _ in metrics:
            if key not in values:
                cells.append('-')
            elif len(values[key]) != len(seeds):
                raise RuntimeError(f'{row}: {key} has {len(values[key])} values for '
                                   f'{len(seeds)} seeds')
            else:
                mean, std = mean_std(values[key])
                cells.append(f'{mean:.1f} ± {std:.1f}' if len(seeds) > 1 else f'{mean:.1f}')
        lines.append(f'| {row} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


# (claim, metric key, row a, row b, expected sign of a - b)
CLAIMS = (
    ('1. RLA degrades dense quality', 'unsup_miou', 'CLIPSelf', 'CLIP', -1),
    ('1. RLA degrades dense quality', 'unsup_miou', 'RegionCLIP', 'CLIP', -1),
    ('2. SCD keeps it', 'unsup_miou', 'SC-RLA', 'CLIPSelf', +1),
    ('3. the Refiner makes SCD better', 'unsup_miou', 'R-SC-RLA', 'SC-RLA', +1),
    ('3. the Refiner makes SCD better', 'ov_seg_miou', 'R-SC-RLA', 'SC-RLA', +1),
    ('4. alignment still improves', 'box_top1', 'R-SC-RLA', 'CLIP', +1),
    ('4. alignment still improves', 'mask_top1', 'R-SC-RLA', 'CLIP', +1),
    ('4. alignment still improves', 'ov_seg_miou', 'R-SC-RLA', 'CLIP', +1),
    ('4. alignment still improves', 'novel_ap50', 'R-SC-RLA', 'CLIP', +1),
    ('4. alignment still improves', 'novel_ap50', 'R-SC-RLA', 'CLIPSelf', +1),
)


def format_claims(table: Dict[str, Dict[str, list]]) -> str:
    """Paired (same-seed) differences for each claim, and how many seeds show the claimed sign."""
    from .evaluate import mean_std
    titles = dict(METRICS)
    lines = ['| claim | metric | difference | mean ± std | seeds with the claimed sign |',
             '|---|---|---|---|---|']
    for claim, key, a, b, sign in CLAIMS:
        if key not in table.get(a, {}) or key not in table.get(b, {}):
            continue
        diffs = [x - y for x, y in zip(table[a][key], table[b][key])]
        mean, std = mean_std(diffs)
        agree = sum(1 for d in diffs if d * sign > 0)
        lines.append(f'| {claim} | {titles[key]} | {a} − {b} ({"<" if sign < 0 else ">"} 0) | '
                     f'{mean:+.1f} ± {std:.1f} | {agree}/{len(diffs)} |')
    return '\n'.join(lines)


def panel(run: Run, rows: Sequence[str], out: str, num_images: int = 4) -> None:
    import numpy as np
    import torch

    from refclip_mm.evaluation.dense_visualization import make_panel, save_png, stack_panels
    from refclip_mm.evaluation.towers import load_rgb, normalize_images
    paths = sorted(os.listdir(osp.join(run.data, 'images', 'val')))[:num_images]
    images = [load_rgb(osp.join(run.data, 'images', 'val', p)) for p in paths]
    inputs = normalize_images(np.stack(images))
    with torch.no_grad():
        dense = [dense_fn_of(run, row, 0)(inputs).float() for row in rows]
    panels = [make_panel(image, [d[i] for d in dense], list(rows), cell=128, seed=0)
              for i, image in enumerate(images)]
    save_png(out, stack_panels(panels))


def run_toyworld(work_dir: str, quick: bool = False, seeds: Optional[Sequence[int]] = None,
                 methods: Sequence[str] = tuple(METHODS), fvit_detectors: bool = True,
                 iters_scale: float = 1.0, images_scale: float = 1.0,
                 verbose: bool = False) -> dict:
    """Run (or continue) a ToyWorld experiment in ``work_dir``; returns the summary.

    Every step is skipped when its output exists. ``quick``: the one-seed variant with
    shorter schedules. ``verbose``: stream the training runs' logs (otherwise each run's
    console output goes to ``console.log`` in its work dir).
    """
    protocol = scaled(QUICK if quick else FULL, iters_scale, images_scale)
    if seeds:
        protocol = replace(protocol, seeds=tuple(seeds))
    seeds = tuple(protocol.seeds)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f'unknown methods {unknown}; choose from {list(METHODS)}')
    methods = [m for m in METHODS if m in methods]
    run = Run(work_dir, protocol, verbose)
    write_json(run.path('protocol.json'), asdict(protocol))
    start = time.time()

    run.step('data', osp.join(run.data, 'classes.json'), lambda: make_data(run))
    run.step('stage 0: contrastive pre-training', run.clip, lambda: stage0(run))
    run.step('text embeddings', run.text['concepts'], lambda: text_embeddings(run))
    run.step('stage 0: zero-shot check', run.path('stage0_eval.json'), lambda: zero_shot(run))
    for seed in seeds:
        if 'R-SC-RLA' in methods:
            run.step(f'stage 1: Refiner, seed {seed}', run.refiner(seed),
                     lambda: refiner(run, seed))
        for method in methods:
            run.step(f'stage 2: {method}, seed {seed}', run.tower(method, seed),
                     lambda: stage2(run, method, seed))
    data_cache: dict = {}
    rows = [r for r in rows_of(methods) if r != 'CLIP + Refiner' or 'R-SC-RLA' in methods]
    for seed in seeds:
        for row in rows:
            out = osp.join(run.results, f'eval_{slug(row)}_seed{seed}.json')
            run.step(f'evaluate {row}, seed {seed}', out,
                     lambda: evaluate(run, row, seed, out, data_cache))
            if fvit_detectors and row != 'CLIP + Refiner':
                out_det = osp.join(run.results, f'fvit_{slug(row)}_seed{seed}.json')
                run.step(f'F-ViT on {row}, seed {seed}', out_det,
                         lambda: fvit(run, row, seed, out_det))
    run.step('panel', run.path('panel.png'), lambda: panel(run, rows, run.path('panel.png')))

    table = {row: values for row, values in collect(run, methods, seeds).items() if row in rows}
    text = '\n\n'.join([format_table(table, seeds), format_claims(table),
                        format_table(table, seeds, REGION_PARTS)])
    stage0_eval = read_json(run.path('stage0_eval.json'))
    summary = dict(protocol=asdict(protocol), stage0=stage0_eval, table=table,
                   seconds_this_call=time.time() - start, step_seconds=run.timings)
    write_json(run.path('results.json'), summary)
    with open(run.path('table.md'), 'w') as f:
        f.write(text + '\n')
    print(f'\n[toyworld] stage 0 ({stage0_eval["images_per_s"]:.0f} images/s): zero-shot on '
          f'single-object scenes: {describe_zero_shot(stage0_eval)}')
    print(f'[toyworld] {len(seeds)} seed(s); mean ± sample std; all numbers in %')
    print(text)
    print(f'[toyworld] {time.time() - start:.0f} s in this call; table.md, results.json and '
          f'panel.png in {run.work}')
    return summary
