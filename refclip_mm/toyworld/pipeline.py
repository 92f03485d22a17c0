"""The ToyWorld pipeline (docs/toyworld.md): the whole method on a generated world, measured.

Steps (each is skipped when its output exists, so an interrupted run continues where it
stopped; delete a file to redo its step):

1. data: generated scenes (COCO instances + captions, semantic maps) in <work-dir>/data;
2. stage 0: contrastive pre-training of the toy CLIP (configs/toyworld/stage0_*.py) on
   scene-caption pairs drawn on the fly; exported as clip_toy.pth; zero-shot top-1 of
   single-object scenes; text embeddings of the class names;
3. per seed: stage 1 (the Refiner on the frozen stage-0 CLIP), then stage 2 with CLIPSelf,
   RegionCLIP, SC-RLA (CLIPSelf + SCD) and R-SC-RLA (CLIPSelf + SCD with the Refiner);
4. per tower, seed and evaluation size (the CLIP's native 64 px and the stage-2 size):
   unsupervised-segmentation mIoU (mean over k-means restarts), linear-probe mIoU, the
   locality index, training-free open-vocabulary segmentation mIoU, region top-1 on boxes and
   masks; per tower and seed a tiny F-ViT's base and novel AP50;
5. the tables (mean and 95% interval over seeds), the pre-registered claims decided on paired
   differences (:func:`refclip_mm.evaluation.decision.decide`; table.md, results.json) and a
   panel of the towers' dense features (panel.png).

Training runs go through :mod:`refclip_mm.apis`; schedules are fitted by meaning
(:func:`~refclip_mm.apis.fit_schedule`) and hooks set by type, never by list position.
"""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from ..apis import (StageLine, configure_training, fit_schedule, last_checkpoint, load_config,
                    ov_ap50, scene_detector_options, set_hook_options, train, train_then_test)
from .worlds import PIXELS, WORLD2, Protocol, World, get_world

if TYPE_CHECKING:
    from mmengine.config import Config

# the second world's stage-2 methods: the row label in the table, and the files' name
# (every world's: ``World.methods``)
METHODS = {label: method.name for label, method in WORLD2.methods.items()}
# a reference row: each token is its own 8 x 8 pixel patch (perfectly local, no semantics)
# a diagnostic row (the Refiner ablation): the stage-0 CLIP on 2 x 2 windows, each zoomed to the
# evaluation size, i.e. the Refiner's training target applied to the whole image
ZOOMED_WINDOWS = 'CLIP, zoomed windows'
# stage-2 methods re-trained in fp32 on the precision-check seeds (the protocol trains in bf16)
FP32_SUFFIX = ' (fp32)'
PRECISION_CHECK = ('CLIPSelf', 'R-SC-RLA')
METRICS = (('unsup_miou', 'unsup. seg mIoU'), ('probe_miou', 'linear probe mIoU'),
           ('locality', 'locality index'), ('ov_seg_miou', 'OV seg mIoU'),
           ('box_top1', 'box top-1'), ('mask_top1', 'mask top-1'))
DETECTION = (('base_ap50', 'base AP50'), ('novel_ap50', 'novel AP50'))
# region classification split into its parts: the predicted class has the right colour / shape
REGION_PARTS = (('box_colour', 'box: colour right'), ('box_shape', 'box: shape right'),
                ('mask_colour', 'mask: colour right'), ('mask_shape', 'mask: shape right'))


# the second world's protocols (the package's defaults)
FULL = WORLD2.full
QUICK = WORLD2.quick


def scaled(protocol: Protocol, iters: float, images: float) -> Protocol:
    """``protocol`` with every schedule and dataset size multiplied (at least 2 each; the
    stage-0 batch, which is images too, at least 8)."""
    def n(value, factor):
        return max(2, int(round(value * factor)))
    return replace(protocol, train_images=n(protocol.train_images, images),
                   val_images=n(protocol.val_images, images),
                   zero_shot_images=n(protocol.zero_shot_images, images),
                   probe_images=n(protocol.probe_images, images),
                   locality_pairs=n(protocol.locality_pairs, images),
                   stage0_iters=n(protocol.stage0_iters, iters),
                   stage0_batch=max(8, int(round(protocol.stage0_batch * images))),
                   refiner_iters=n(protocol.refiner_iters, iters),
                   stage2_iters=n(protocol.stage2_iters, iters),
                   fvit_iters=n(protocol.fvit_iters, iters))


class Run:
    """Paths of a ToyWorld run and the cached-step logic.

    Two folders: ``work_dir`` holds what can be made again (the scenes, text embeddings,
    Refiners, stage-2 towers, mmengine work dirs); ``results_dir`` (default: ``work_dir``)
    holds what a run is made of and is worth keeping: the stage-0 CLIP and its checks, every
    measurement file, the step times, the panel and the tables. A run continues from its
    results dir alone: a seed whose measurements are all there is not trained again.
    """

    def __init__(self, work_dir: str, protocol: Protocol, verbose: bool = False,
                 results_dir: Optional[str] = None, world: World = WORLD2):
        self.world = world
        self.work = osp.abspath(work_dir)
        self.keep = osp.abspath(results_dir or work_dir)
        self.protocol = protocol
        self.verbose = verbose
        self.data = osp.join(self.work, 'data')
        self.clip = self.kept('clip_toy.pth')
        self.text = {kind: osp.join(self.work, f'text_{kind}.pth')
                     for kind in ('things', 'semantic', 'concepts')}
        self.results = self.kept('results')
        self.timings: Dict[str, float] = {}
        self.lines = StageLine()
        os.makedirs(self.results, exist_ok=True)

    def path(self, *parts: str) -> str:
        """A file that can be made again (in the work dir)."""
        return osp.join(self.work, *parts)

    def kept(self, *parts: str) -> str:
        """A file of the run's results (in the results dir)."""
        return osp.join(self.keep, *parts)

    def check_protocol(self) -> Protocol:
        """Write the protocol to the results dir, or refuse to continue results that were made
        with other sizes (the seeds may differ: a run is continued seed by seed). Returns the
        protocol with the seeds of this call and of the earlier ones.

        Raises:
            ValueError: ``protocol.json`` there has other sizes.
        """
        path = self.kept('protocol.json')
        mine = asdict(self.protocol)
        if osp.exists(path):
            theirs = read_json(path)
            ignore = ('seeds', 'precision_check_seeds')
            differ = sorted(k for k in mine if k not in ignore
                            and json.loads(json.dumps(mine[k])) != theirs.get(k))
            if differ:
                raise ValueError(
                    f'{path} was written by a run with other sizes ({", ".join(differ)}): '
                    'continue it with the same options (--quick, --iters-scale, '
                    '--images-scale) or choose another --results-dir')
            seeds = sorted(set(theirs.get('seeds', [])) | set(mine['seeds']))
            checks = sorted(set(theirs.get('precision_check_seeds', []))
                            | set(mine['precision_check_seeds']))
            mine = dict(mine, seeds=seeds, precision_check_seeds=checks)
        write_json(path, mine)
        return replace(self.protocol, seeds=tuple(mine['seeds']),
                       precision_check_seeds=tuple(mine['precision_check_seeds']))

    def log_file(self, work: str) -> Optional[str]:
        """Where a training run's console output goes (``None``: the console, when verbose)."""
        return None if self.verbose else osp.join(work, 'console.log')

    def refiner_name(self, refiner: Optional[str] = None) -> str:
        """The files' name of a Refiner of the world (default: the main one)."""
        if refiner is None or refiner == self.world.main_refiner:
            return 'refiner'
        return f'refiner_{refiner.lower()}'

    def refiner(self, seed: int, refiner: Optional[str] = None) -> str:
        """The Refiner file of ``seed`` (default: the world's main Refiner)."""
        return self.path('refiners', f'{self.refiner_name(refiner)}_seed{seed}.pth')

    def tower(self, method: str, seed: int) -> str:
        """A stage-2 tower file; ``'<method> (fp32)'``: its fp32 re-training."""
        fp32 = method.endswith(FP32_SUFFIX)
        name = self.world.methods[method[:-len(FP32_SUFFIX)] if fp32 else method].name
        return self.path('towers', f'{name}{"_fp32" if fp32 else ""}_seed{seed}.pth')

    def step(self, name: str, output: str, fn) -> None:
        """Run ``fn(progress)`` unless ``output`` exists; one line per step (with a progress bar
        while a training step runs on a terminal), its time and its output."""
        rel = osp.relpath(output, self.keep if output.startswith(self.keep + os.sep) else self.work)
        if osp.exists(output):
            self.lines.cached(name, rel)
            return

        def call(progress):
            fn(progress)
            if not osp.exists(output):
                raise RuntimeError(f'step {name!r} finished without writing {output}')
            return None, rel
        start = time.time()
        self.lines.run(name, call)
        self.timings[name] = time.time() - start
        # every step's time, kept across the calls that together make a run
        times_file = self.kept('step_seconds.json')
        times = read_json(times_file, missing={})
        times[name] = self.timings[name]
        write_json(times_file, times)


def machine() -> dict:
    """What a step ran on: the CPU model, torch's thread count, and the training precision
    that ``'auto'`` gives there (:mod:`refclip_mm.utils.precision`)."""
    import platform

    import torch

    from refclip_mm.utils.precision import native_bf16
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        model = names[0] if names else model
    except OSError:
        pass
    return dict(cpu=model, threads=torch.get_num_threads(),
                precision='bf16' if native_bf16('cpu') else 'fp32')


def record_machine(run: 'Run', part: str) -> None:
    """Note in ``machines.json`` (results dir) what ``part`` of the run ran on."""
    path = run.kept('machines.json')
    machines = read_json(path, missing={})
    machines[part] = machine()
    write_json(path, machines)


def write_json(path: str, data) -> None:
    from refclip_mm.utils.atomic import atomic_write_json
    atomic_write_json(path, data, indent=1)


def read_json(path: str, missing=None):
    """The JSON in ``path``; ``missing`` (when given) if there is no such file."""
    if missing is not None and not osp.exists(path):
        return missing
    with open(path) as f:
        return json.load(f)


# ------------------------------------------------------------------------------------ steps
def make_data(run: Run) -> None:
    from refclip_mm.datasets.synthetic import dataset_is_complete, write_dataset
    if not dataset_is_complete(run.data, ('train', 'val')):
        write_dataset(run.data, dict(train=run.protocol.train_images, val=run.protocol.val_images),
                      seed=0, cfg=run.world.scene_cfg())


STAGE0_CHECKPOINT_EVERY = 200


def stage0(run: Run, progress=None) -> None:
    from refclip_mm.models.trainers import export_stage0_checkpoint
    iters = run.protocol.stage0_iters
    work = run.path('stage0')
    cfg = fit_schedule(load_config(run.world.config('stage0'), work_dir=work, cfg_options={
        'train_dataloader.batch_size': run.protocol.stage0_batch}), iters,
        warmup=max(1, min(100, iters // 10)))
    # the longest step: checkpointed as it goes, and continued from its last checkpoint
    cfg.default_hooks.checkpoint.interval = min(iters, STAGE0_CHECKPOINT_EVERY)
    configure_training(cfg, resume='auto')
    start = time.time()
    record_machine(run, 'stage 0')
    train(cfg, log_file=run.log_file(work), progress=progress)
    seconds = time.time() - start
    export_stage0_checkpoint(last_checkpoint(work), run.clip)
    batch = cfg.train_dataloader.batch_size
    write_json(run.kept('stage0.json'), dict(iters=iters, batch_size=batch, seconds=seconds,
                                             images_per_s=iters * batch / seconds))


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
    text = build_text_tower(run.world.arch(), run.clip)
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
    tower = build_image_tower(run.world.arch(), run.clip)
    things = load_class_embeddings(run.text['things']).embeddings
    result = read_json(run.kept('stage0.json'))
    result['zero_shot'] = zero_shot_accuracy(
        tower.encode_image, things, run.protocol.zero_shot_images, seed=123,
        scene_cfg=single_object_cfg(run.world), input_size=run.world.clip_size())
    write_json(run.kept('stage0_eval.json'), result)


def single_object_cfg(world: World):
    """The world's scenes with one large thing each (the zero-shot check's scenes)."""
    return world.scene_cfg(objects_per_image=(1, 1), object_scale=(0.3, 0.55))


def describe_zero_shot(result: dict) -> str:
    shot = result['zero_shot']
    return (f'top-1 {shot["top1"]:.1f}% (chance 5%), colour {shot["colour"]:.1f}% (25%), '
            f'shape {shot["shape"]:.1f}% (20%)')


def refiner_config(run: Run, work: str, options: Optional[dict] = None,
                   refiner: Optional[str] = None) -> 'Config':
    """The stage-1 config of ``refiner`` (default: the world's main one) on the run's stage-0
    CLIP and training scenes, with ``options`` by key and work dir ``work``."""
    role = run.world.refiners[refiner or run.world.main_refiner]
    return load_config(run.world.config(role), work_dir=work, cfg_options={
        'model.pretrained': run.clip, 'train_dataloader.dataset.data_root': run.data,
        **(options or {})})


def refiner(run: Run, seed: int, progress=None, options: Optional[dict] = None,
            iters_factor: float = 1.0, name: Optional[str] = None,
            out: Optional[str] = None, refiner: Optional[str] = None) -> None:
    """Stage 1 for ``seed``: the world's Refiner ``refiner`` (default: the main one), or (the
    ablation) one trained with config ``options`` by key and ``iters_factor`` times the steps,
    in work dir ``<name>_seed<seed>`` (default name: the Refiner's) and exported to ``out``
    (default: the run's file of that Refiner and seed)."""
    from refclip_mm.models.refiner_file import export_refiner
    work = run.path('work', f'{name or run.refiner_name(refiner)}_seed{seed}')
    cfg = refiner_config(run, work, {'randomness.seed': seed, **(options or {})}, refiner)
    iters = max(1, int(round(run.protocol.refiner_iters * iters_factor)))
    train(fit_schedule(cfg, iters), log_file=run.log_file(work), progress=progress)
    out = out or run.refiner(seed, refiner)
    os.makedirs(osp.dirname(out), exist_ok=True)
    export_refiner(last_checkpoint(work), out)


def stage2(run: Run, method: str, seed: int, fp32: bool = False, progress=None) -> None:
    """Train a stage-2 method (``fp32``: with a plain fp32 optimizer wrapper instead of the
    config's bf16 autocast) and convert it to a tower file."""
    from refclip_mm.models.trainers.convert import convert_stage2_checkpoint
    iters = run.protocol.stage2_iters
    spec = run.world.methods[method]
    work = run.path('work', f'{spec.name}{"_fp32" if fp32 else ""}_seed{seed}')
    options = {'model.pretrained': run.clip, 'randomness.seed': seed,
               'train_dataloader.dataset.data_root': run.data}
    if fp32:
        options['optim_wrapper.type'] = 'OptimWrapper'
    if method == 'RegionCLIP':
        options['model.concepts'] = run.text['concepts']
    cfg = load_config(run.world.config(spec.role), work_dir=work, cfg_options=options)
    if spec.refiner is not None:
        set_hook_options(cfg, 'SCDDistillHook', refiner_file=run.refiner(seed, spec.refiner))
    train(fit_schedule(cfg, iters, warmup=max(1, iters // 10)), log_file=run.log_file(work),
          progress=progress)
    out = run.tower(method + (FP32_SUFFIX if fp32 else ''), seed)
    os.makedirs(osp.dirname(out), exist_ok=True)
    convert_stage2_checkpoint(last_checkpoint(work), out)


def pixel_patches(patch_size: int = 8):
    """``images -> B x (3 p p) x h x w``: every token is its own ``p x p`` pixel patch (the
    world's perfectly local reference feature)."""
    import torch.nn.functional as F

    def fn(images):
        b, _, h, w = images.shape
        return F.unfold(images, patch_size, stride=patch_size).reshape(
            b, -1, h // patch_size, w // patch_size)
    return fn


def dense_fn_of(run: Run, row: str, seed: int, refiner_file: Optional[str] = None):
    """``images -> B x D x h x w`` projected dense maps of a table row's tower (for
    ``'CLIP + Refiner'``: with ``refiner_file``, default the seed's registered Refiner;
    :data:`ZOOMED_WINDOWS`: the stage-0 CLIP through
    :func:`~refclip_mm.evaluation.zoomed_windows.zoomed_windows`)."""
    import torch

    from refclip_mm.clip import build_image_tower
    from refclip_mm.evaluation import find_dense_fn, zoomed_windows
    from refclip_mm.registry import MODELS
    if row == PIXELS:
        return pixel_patches(run.world.arch()['vision_cfg']['patch_size'])
    if row == ZOOMED_WINDOWS:
        return zoomed_windows(dense_fn_of(run, 'CLIP', seed), windows=2)
    torch.manual_seed(seed)
    refiners = {run.world.refined_row(key): key for key in run.world.refiners}
    if row in refiners:
        module = MODELS.build(dict(type='refclip_mm.RefinerBackbone', clip_model=run.world.arch(),
                                   pretrained=run.clip,
                                   refiner_file=refiner_file or run.refiner(
                                       seed, refiners[row]),
                                   out_indices=()))
    else:
        module = build_image_tower(run.world.arch(),
                                   run.clip if row == 'CLIP' else run.tower(row, seed))
    module.eval()
    return find_dense_fn(module)


def eval_inputs(run: Run, cache: dict) -> dict:
    """The evaluation data, loaded once per call of :func:`run_toyworld`: the val split, the
    linear probe's training scenes, the locality index's scene pairs, the text embeddings."""
    if not cache:
        from refclip_mm.clip import load_class_embeddings
        from .evaluate import load_eval_set, scene_pairs
        cache.update(
            val=load_eval_set(run.data, 'val'),
            probe=load_eval_set(run.data, 'train', limit=run.protocol.probe_images),
            pairs=scene_pairs(run.protocol.locality_pairs, seed=PAIRS_SEED,
                              cfg=run.world.scene_cfg()),
            semantic=load_class_embeddings(run.text['semantic']).embeddings,
            things=load_class_embeddings(run.text['things']).embeddings)
    return cache


PAIRS_SEED = 20_000  # the locality pairs' scenes; not a training seed


def check_premises(run: Run, cache: dict) -> None:
    """The world's premises on the stage-0 CLIP alone (:mod:`.premises`), into
    ``premises.json`` (every value, the registered bars and the verdicts)."""
    from refclip_mm.clip import build_image_tower
    from refclip_mm.evaluation import zoomed_windows
    from .evaluate import dense_maps, evaluate_tower
    from .premises import THRESHOLDS, judge, small_thing_views, token_naming
    data = eval_inputs(run, cache)
    val, things = data['val'], data['things']
    clip_fn = dense_fn_of(run, 'CLIP', 0)
    clip_size, decision = run.world.clip_size(), max(run.protocol.eval_sizes)
    options = dict(probe_data=data['probe'], restarts=run.protocol.kmeans_restarts)
    measured, maps = {}, {}
    for size in run.protocol.eval_sizes:
        maps[size] = dense_maps(clip_fn, val.images, size)
        measured[f'tokens_{size}'] = token_naming(maps[size], things, val)
        measured[f'clip_{size}'] = evaluate_tower(clip_fn, val, data['semantic'], things,
                                                  size=size, pairs=data['pairs'], **options)
    # each clip_size window of the decision-size view, seen by the CLIP at its own size
    windows = zoomed_windows(clip_fn, windows=decision // clip_size, window_size=clip_size)
    measured[f'windows_{decision}'] = evaluate_tower(windows, val, data['semantic'], things,
                                                     size=decision, **options)
    tower = build_image_tower(run.world.arch(), run.clip).eval()
    measured['small_things'] = small_thing_views(tower.encode_image, maps, things, val,
                                                 input_size=clip_size)
    write_json(run.kept('premises.json'),
               dict(thresholds=THRESHOLDS, measured=measured, verdicts=judge(measured)))


def describe_premises(path: str) -> str:
    """One line per premise: its value, its bar and whether it is met."""
    verdicts = read_json(path)['verdicts']
    return '\n'.join(f'  {"met    " if v["met"] else "NOT MET"}  {name}: {v["value"]:.1f} '
                     f'(bar {v["bar"]:g})' for name, v in verdicts.items())


def evaluate(run: Run, row: str, seed: int, size: int, out: str, cache: dict,
             refiner_file: Optional[str] = None) -> None:
    from .evaluate import evaluate_tower
    data = eval_inputs(run, cache)
    text = (None, None) if row == PIXELS else (data['semantic'], data['things'])
    metrics = evaluate_tower(dense_fn_of(run, row, seed, refiner_file), data['val'], *text,
                             seed=seed, size=size, probe_data=data['probe'],
                             pairs=data['pairs'], restarts=run.protocol.kmeans_restarts)
    write_json(out, metrics)


def evaluate_step(run: Run, row: str, seed: int, size: int, cache: dict,
                  name: Optional[str] = None, out: Optional[str] = None,
                  refiner_file: Optional[str] = None) -> None:
    """The step measuring ``row`` of ``seed`` at ``size`` px (:func:`evaluate`) into ``out``
    (default: the results dir's file of that row); ``name`` labels it (default: ``row``)."""
    from .report import eval_file
    out = out or eval_file(run.results, row, seed, size)
    run.step(f'evaluate {name or row} at {size} px, seed {seed}', out,
             lambda _: evaluate(run, row, seed, size, out, cache, refiner_file))


def fvit_config(tower: str, things_text: str, data: str, work: str, seed: int, iters: int,
                lr: Optional[float] = None, image_size: Optional[int] = None,
                world: World = WORLD2) -> 'Config':
    """The ToyWorld F-ViT config of ``world`` on ``tower`` (a CLIP or stage-2 tower file),
    trained on the base classes of the scenes in ``data`` for ``iters`` steps; ``lr`` and
    ``image_size`` (every pipeline's resize) default to the config's."""
    options = dict(scene_detector_options(tower, things_text, data), **{'randomness.seed': seed})
    if lr is not None:
        options['optim_wrapper.optimizer.lr'] = lr
    cfg = load_config(world.config('fvit'), work_dir=work, cfg_options=options)
    if image_size is not None:
        for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
            loader.dataset.pipeline = [dict(t, scale=(image_size, image_size)) if 'scale' in t
                                       else t for t in loader.dataset.pipeline]
    return fit_schedule(cfg, iters, warmup=max(1, min(50, iters // 10)))


DETECTOR_SEED_STRIDE = 100  # detector d of seed s trains with seed s + 100 d


def fvit(run: Run, row: str, seed: int, out: str, progress=None, detector: int = 0) -> None:
    """Train and test the F-ViT on ``row``'s tower of ``seed`` (its ``detector``-th detector:
    seed ``seed + 100 detector``); base and novel AP50 (%) into ``out``."""
    weights = run.clip if row == 'CLIP' else run.tower(row, seed)
    suffix = f'_det{detector}' if detector else ''
    work = run.path('work', f'fvit_{row.lower().replace(" ", "")}_seed{seed}{suffix}')
    cfg = fvit_config(weights, run.text['things'], run.data, work,
                      seed + DETECTOR_SEED_STRIDE * detector, run.protocol.fvit_iters,
                      world=run.world)
    metrics = train_then_test(cfg, log_file=run.log_file(work), progress=progress)
    write_json(out, {k: v * 100 for k, v in ov_ap50(metrics).items()})


def detector_file(out: str, detector: int) -> str:
    """Where detector ``detector`` of a tower and seed keeps its values (beside ``out``, the
    file of their mean)."""
    return out[:-len('.json')] + f'_det{detector}.json'


def mean_of_detectors(files: Sequence[str], out: str) -> None:
    """The mean AP50s of several detectors into ``out``, each detector's values beside them
    (``<metric>_det<d>``)."""
    values = [read_json(path) for path in files]
    merged = {key: sum(v[key] for v in values) / len(values) for key in values[0]}
    for detector, value in enumerate(values):
        merged.update({f'{key}_det{detector}': v for key, v in value.items()})
    write_json(out, merged)


def detection_steps(run: Run, row: str, seed: int) -> None:
    """The F-ViT runs of one tower and seed: one, or the world's ``detector_seeds`` and their
    mean."""
    from .report import fvit_file
    out = fvit_file(run.results, row, seed)
    count = run.world.detector_seeds
    if count == 1:
        run.step(f'F-ViT on {row}, seed {seed}', out, lambda bar: fvit(run, row, seed, out, bar))
        return
    files = [detector_file(out, d) for d in range(count)]
    for detector, path in enumerate(files):
        run.step(f'F-ViT on {row}, seed {seed}, detector {detector}', path,
                 lambda bar: fvit(run, row, seed, path, bar, detector))
    run.step(f'F-ViT on {row}, seed {seed}: mean of {count} detectors', out,
             lambda _: mean_of_detectors(files, out))


# ------------------------------------------------------------------------------------ report
def refiners_used(world: World, methods: Sequence[str]) -> List[str]:
    """The world's Refiners that an R-SC-RLA among ``methods`` follows its teacher with."""
    used = {world.methods[m].refiner for m in methods}
    return [key for key in world.refiners if key in used]


def rows_of(world: World, methods: Sequence[str]) -> List[str]:
    """Table rows: the pixel reference, the stage-0 tower, with each Refiner an R-SC-RLA
    method uses, and every stage-2 method."""
    refined = [world.refined_row(key) for key in refiners_used(world, methods)]
    return [PIXELS, 'CLIP', *refined, *methods]


def detection_rows(world: World, methods: Sequence[str]) -> List[str]:
    return [row for row in world.detection_towers if row == 'CLIP' or row in methods]


def teachers(world: World, methods: Sequence[str]) -> List[Tuple[str, str]]:
    """``(R-SC-RLA row, CLIP + its Refiner row)`` of each Refiner-following method run."""
    return [(m, world.refined_row(world.methods[m].refiner)) for m in methods
            if world.methods[m].refiner is not None]


def report(run: Run, methods: Sequence[str], with_detection: bool) -> Tuple[dict, str]:
    """``(table, text)``: every value by section / row / metric, and the markdown tables with
    the decided claims."""
    from .report import (DETECTION_SECTION, claims_for, collect, decide_claims, format_decisions,
                         format_table, section_of)
    p = run.protocol
    table = collect(run.results, rows_of(run.world, methods), p.seeds, p.eval_sizes,
                    detection_rows(run.world, methods) if with_detection else (),
                    seed_of=run.world.measured_seed)
    titles = dict(METRICS + DETECTION + REGION_PARTS)
    parts = []
    for size in p.eval_sizes:
        parts.append(f'Evaluated at {size} px:\n\n' + format_table(table[section_of(size)],
                                                                   METRICS))
    if with_detection:
        parts.append('F-ViT (trained on the base classes at the stage-2 size):\n\n'
                     + format_table(table[DETECTION_SECTION], DETECTION))
    decided = decide_claims(table, claims_for(max(p.eval_sizes), min(p.eval_sizes),
                                              teachers(run.world, methods)))
    parts.append('Claims (paired differences over seeds):\n\n'
                 + format_decisions(decided, titles))
    parts.append(f'Region classification parts at {max(p.eval_sizes)} px:\n\n' + format_table(
        {row: v for row, v in table[section_of(max(p.eval_sizes))].items() if row != PIXELS},
        REGION_PARTS))
    checked = [m for m in PRECISION_CHECK if m in methods]
    results = dict(table=table, claims=decided)
    if checked and p.precision_check_seeds:
        precision = precision_rows(run, checked, table[section_of(max(p.eval_sizes))])
        results['precision_check'] = precision
        parts.append(f'bf16 (the protocol) and fp32 training of the same seeds, at '
                     f'{max(p.eval_sizes)} px, beside the spread over all seeds:\n\n'
                     + format_table(precision, METRICS))
    return results, '\n\n'.join(parts)


def precision_rows(run: Run, methods: Sequence[str], section: dict) -> dict:
    """Per checked method: its bf16 values on the precision-check seeds, the fp32 values of
    the same seeds, and the bf16 values' standard deviation over every seed."""
    import numpy as np

    from .report import collect, section_of
    p = run.protocol
    size = max(p.eval_sizes)
    fp32 = collect(run.results, [m + FP32_SUFFIX for m in methods], p.precision_check_seeds,
                   [size])[section_of(size)]
    index = [list(p.seeds).index(seed) for seed in p.precision_check_seeds]
    rows = {}
    for method in methods:
        bf16 = section[method]
        rows[f'{method}, bf16'] = {k: [v[i] for i in index] for k, v in bf16.items()}
        rows[f'{method}, fp32'] = fp32[method + FP32_SUFFIX]
        if len(p.seeds) > 1:
            rows[f'{method}, bf16 std over {len(p.seeds)} seeds'] = {
                k: [float(np.std(v, ddof=1))] for k, v in bf16.items()}
    return rows


def panel(run: Run, rows: Sequence[str], out: str, seed: int = 0, num_images: int = 4,
          ) -> None:
    import numpy as np
    import torch

    from refclip_mm.evaluation.dense_visualization import make_panel, save_png, stack_panels
    from refclip_mm.evaluation.towers import load_rgb, normalize_images
    paths = sorted(os.listdir(osp.join(run.data, 'images', 'val')))[:num_images]
    images = [load_rgb(osp.join(run.data, 'images', 'val', p)) for p in paths]
    inputs = normalize_images(np.stack(images))
    with torch.no_grad():
        dense = [dense_fn_of(run, row, seed)(inputs).float() for row in rows]
    panels = [make_panel(image, [d[i] for d in dense], list(rows), cell=128, seed=0)
              for i, image in enumerate(images)]
    save_png(out, stack_panels(panels))


def seed_measurements(run: Run, seed: int, methods: Sequence[str], fvit_detectors: bool,
                      ) -> List[str]:
    """Every measurement file of one seed but its precision check (the step outputs in the
    results dir)."""
    from .report import eval_file, fvit_file
    files = [eval_file(run.results, row, run.world.measured_seed(row, seed), size)
             for row in rows_of(run.world, methods) for size in run.protocol.eval_sizes]
    if fvit_detectors:
        files += [fvit_file(run.results, row, seed)
                  for row in detection_rows(run.world, methods)]
    return files


def precision_check_measurements(run: Run, seed: int, methods: Sequence[str]) -> List[str]:
    """The measurement files of one seed's precision check (its fp32 re-trainings)."""
    from .report import eval_file
    return [eval_file(run.results, method + FP32_SUFFIX, seed, max(run.protocol.eval_sizes))
            for method in PRECISION_CHECK if method in methods]


def all_exist(paths: Sequence[str]) -> bool:
    return all(osp.exists(path) for path in paths)


def train_seed(run: Run, seed: int, methods: Sequence[str]) -> None:
    """Stage 1 (each Refiner an R-SC-RLA method uses) and every stage-2 method of one seed."""
    for key in refiners_used(run.world, methods):
        label = '' if key == run.world.main_refiner else f' ({key})'
        run.step(f'stage 1: Refiner{label}, seed {seed}', run.refiner(seed, key),
                 lambda bar: refiner(run, seed, progress=bar, refiner=key))
    for method in methods:
        run.step(f'stage 2: {method}, seed {seed}', run.tower(method, seed),
                 lambda bar: stage2(run, method, seed, progress=bar))


def draw_panel(run: Run, seed: int, methods: Sequence[str]) -> None:
    """The panel of every tower's dense features (drawn once per results dir, from the first
    seed that has every method)."""
    rows = [row for row in rows_of(run.world, methods) if row != PIXELS]
    run.step('panel', run.kept('panel.png'),
             lambda _: panel(run, rows, run.kept('panel.png'), seed=seed))


def run_seed(run: Run, seed: int, methods: Sequence[str], fvit_detectors: bool,
             cache: dict) -> None:
    """One seed from training to its last measurement; nothing is trained when every
    measurement of the seed is already in the results dir."""
    p = run.protocol
    wanted = seed_measurements(run, seed, methods, fvit_detectors)
    if seed in p.precision_check_seeds:
        wanted += precision_check_measurements(run, seed, methods)
    if all_exist(wanted):
        run.lines.cached(f'seed {seed}: every measurement',
                         osp.relpath(run.results, run.keep))
        return
    record_machine(run, f'seed {seed}')
    train_seed(run, seed, methods)
    for row in rows_of(run.world, methods):
        for size in p.eval_sizes:
            evaluate_step(run, row, run.world.measured_seed(row, seed), size, cache)
    if fvit_detectors:
        for row in detection_rows(run.world, methods):
            detection_steps(run, row, seed)
    if list(methods) == list(run.world.methods):
        draw_panel(run, seed, methods)  # while this seed's towers are at hand
    if seed in p.precision_check_seeds:
        for method in (m for m in PRECISION_CHECK if m in methods):
            row = method + FP32_SUFFIX
            run.step(f'stage 2: {row}, seed {seed}', run.tower(row, seed),
                     lambda bar: stage2(run, method, seed, fp32=True, progress=bar))
            evaluate_step(run, row, seed, max(p.eval_sizes), cache)


def run_toyworld(work_dir: str, quick: bool = False, seeds: Optional[Sequence[int]] = None,
                 methods: Optional[Sequence[str]] = None, fvit_detectors: bool = True,
                 precision_check: Optional[Sequence[int]] = None, iters_scale: float = 1.0,
                 images_scale: float = 1.0, verbose: bool = False,
                 results_dir: Optional[str] = None, world: int = 2,
                 premises_only: bool = False) -> dict:
    """Run (or continue) a ToyWorld experiment in ``work_dir``; returns the summary.

    Every step is skipped when its output exists. ``quick``: the one-seed variant with
    shorter schedules. ``precision_check``: the seeds whose CLIPSelf and R-SC-RLA are also
    trained in fp32 (default: the protocol's). ``verbose``: stream the training runs' logs
    (otherwise each run's console output goes to ``console.log`` in its work dir).
    ``results_dir``: where the run's results are kept (default: ``work_dir``; see :class:`Run`).
    ``world``: which world (:mod:`.worlds`); a world drawn above the CLIP's size checks its
    premises on the stage-0 CLIP first (``premises.json``), and ``premises_only`` stops there
    (returns that file's content).
    """
    the_world = get_world(world)
    protocol = scaled(the_world.quick if quick else the_world.full, iters_scale, images_scale)
    if seeds:
        protocol = replace(protocol, seeds=tuple(seeds))
    seeds = tuple(protocol.seeds)
    if precision_check is not None:
        protocol = replace(protocol, precision_check_seeds=tuple(precision_check))
    protocol = replace(protocol, precision_check_seeds=tuple(
        s for s in protocol.precision_check_seeds if s in seeds))
    if protocol.precision_check_seeds and machine()['precision'] == 'fp32':
        # without native bf16 the bf16 configs train in fp32 ('auto'): nothing to check
        print('[toyworld] this CPU has no native bf16: every step trains in fp32, so the bf16 '
              'precision check is skipped')
        protocol = replace(protocol, precision_check_seeds=())
    methods = list(the_world.methods) if methods is None else methods
    unknown = [m for m in methods if m not in the_world.methods]
    if unknown:
        raise ValueError(f'unknown methods {unknown} for {the_world.name}; choose from '
                         f'{list(the_world.methods)}')
    methods = [m for m in the_world.methods if m in methods]
    run = Run(work_dir, protocol, verbose, results_dir, world=the_world)
    every_seed = run.check_protocol()
    start = time.time()

    run.step('data', osp.join(run.data, 'classes.json'), lambda _: make_data(run))
    run.step('stage 0: contrastive pre-training', run.clip, lambda bar: stage0(run, bar))
    run.step('text embeddings', run.text['concepts'], lambda _: text_embeddings(run))
    run.step('stage 0: zero-shot check', run.kept('stage0_eval.json'), lambda _: zero_shot(run))
    cache: dict = {}
    if the_world.native:
        premises_file = run.kept('premises.json')
        run.step('stage 0: premise checks', premises_file, lambda _: check_premises(run, cache))
        print(f'[toyworld] premises of {the_world.name} (stage-0 CLIP):\n'
              + describe_premises(premises_file))
        if premises_only:
            return read_json(premises_file)
    elif premises_only:
        raise ValueError(f'{the_world.name} draws its scenes at the CLIP\'s own size: it has no '
                         'premise checks')
    for seed in seeds:
        run_seed(run, seed, methods, fvit_detectors, cache)
    if list(methods) == list(the_world.methods) and not osp.exists(run.kept('panel.png')):
        # the panel shows every tower of one seed; when only that seed's measurements were
        # kept, its towers are trained again
        train_seed(run, seeds[0], methods)
        draw_panel(run, seeds[0], methods)

    # the tables: every seed of this results dir whose measurements are all there
    # (a seed counts without its precision check, which only bf16 machines run; the check is
    # reported for the seeds that have it)
    run.protocol = every_seed
    done = tuple(seed for seed in every_seed.seeds
                 if all_exist(seed_measurements(run, seed, methods, fvit_detectors)))
    checked = tuple(seed for seed in every_seed.precision_check_seeds
                    if seed in done and all_exist(precision_check_measurements(run, seed, methods)))
    run.protocol = replace(every_seed, seeds=done, precision_check_seeds=checked)
    results, text = report(run, methods, fvit_detectors)
    stage0_eval = read_json(run.kept('stage0_eval.json'))
    step_seconds = read_json(run.kept('step_seconds.json'), missing={})
    summary = dict(protocol=asdict(run.protocol), stage0=stage0_eval, **results,
                   machines=read_json(run.kept('machines.json'), missing={}),
                   seconds_this_call=time.time() - start, step_seconds=step_seconds,
                   total_step_seconds=sum(step_seconds.values()))
    write_json(run.kept('results.json'), summary)
    with open(run.kept('table.md'), 'w') as f:
        f.write(text + '\n')
    print(f'\n[toyworld] stage 0 ({stage0_eval["images_per_s"]:.0f} images/s): zero-shot on '
          f'single-object scenes: {describe_zero_shot(stage0_eval)}')
    print(f'[toyworld] {len(done)} seed(s) ({", ".join(map(str, done))}); mean ± half-width of '
          'the 95% interval; numbers in % (the locality index: a ratio)')
    print(text)
    print(f'[toyworld] {time.time() - start:.0f} s in this call, '
          f'{summary["total_step_seconds"] / 60:.0f} min over all the steps of the run; table.md, '
          f'results.json and panel.png in {run.keep}')
    return summary
