"""The demo: the whole pipeline on generated scenes and a tiny random CLIP, one line per stage.

Stages (outputs under ``work_dir``):

1. data: synthetic scenes (COCO instances + captions, semantic maps) in ``data_root``;
2. a tiny randomly initialised CLIP (3 blocks, width 64, patch 8) saved as weights;
3. stage 1: the Refiner on the frozen tiny CLIP, exported;
4. stage 2: R-SC-RLA (CLIPSelf + SCD with the refined teacher), the tower converted;
5. dense quality (unsupervised segmentation mIoU) of CLIP, CLIP + Refiner and the stage-2 tower;
6. pictures of their dense features;
7. an mmseg segmentor on the stage-2 tower, trained and tested (IoUMetric);
8. a tiny F-ViT open-vocabulary detector on the stage-2 tower, trained on the base classes and
   tested with mmdet's OVCocoMetric (base and novel AP50).

Each training run's console log goes to ``console.log`` in its work dir (``verbose=True``
streams it instead). The CLIP is random, so the numbers show that the pipeline runs, not what
the method achieves with real CLIP weights.

``tower`` picks the tiny CLIP (:data:`DEMO_TOWERS`): ``'openai'`` (the configs as shipped) or
``'siglip2'``, a SigLIP-2-style CLIP written as an open_clip model folder with its own
tokenizer (``make_tiny_siglip2_folder``), whose text tower embeds the class names and the
words of the last stage. What a tower changes in the demo's configs is stated once, per config,
as ``cfg_options`` (:attr:`DemoTower.options`).
"""
import os
import os.path as osp
import sys
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional

from ..utils.paths import config_root
from .runs import (fit_schedule, last_checkpoint, load_config, output_to, ov_ap50,
                   scene_detector_options, set_hook_options, train, train_then_test)
from .stage_line import StageLine

CONFIGS = dict(
    stage1=('refiner', 'refiner_clip-tiny_1xb4-40i_synthetic-64.py'),
    stage2=('rla', 'clipself-patches-rsc_clip-tiny_1xb4-20i_synthetic-64.py'),
    seg=('demo', 'fcn_clipvit-tiny_200i_synthetic-64.py'),
    fvit=('fvit', 'fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py'),
)
FULL_ITERS = dict(stage1=40, stage2=20, seg=200, fvit=40)
FAST_ITERS = dict(stage1=8, stage2=6, seg=20, fvit=4)


def config_path(key: str) -> str:
    folder, name = CONFIGS[key]
    return osp.join(config_root(), folder, name)


def _save_openai(path: str) -> None:
    from ..clip.tiny import save_tiny_clip
    save_tiny_clip(path, 'openai')


def _save_siglip2(path: str) -> None:
    """The tiny SigLIP 2 model folder around ``path`` (its weight file): its tokenizer learns the
    scenes' class names besides the prompt templates."""
    from ..clip.tiny import make_tiny_siglip2_folder
    from ..datasets.synthetic import THING_CLASSES
    make_tiny_siglip2_folder(osp.dirname(path), words=THING_CLASSES)


def _siglip2_options() -> Dict[str, dict]:
    """The demo's configs on the tiny SigLIP 2 tower: its architecture, SigLIP's normalisation
    (``configs/_base_/siglip_normalization.py``) in every data preprocessor and as the padding
    colour of the stage-1/2 pipelines, and its width where a head or neck takes the tower's
    channels."""
    from mmengine.config import Config

    from ..clip import clip_dims, tiny_arch
    norm = Config.fromfile(osp.join(config_root(), '_base_', 'siglip_normalization.py'))
    width = clip_dims(tiny_arch('siglip2'))['width']

    arch = dict(tiny_arch('siglip2'), _delete_=True)  # replaces the configs' tiny CLIP dict

    def padded(key):
        pipeline = Config.fromfile(config_path(key)).train_dataloader.dataset.pipeline
        return [dict(step, pad_val=norm.siglip_pad_val) if step.type == 'ResizeLongestSidePad'
                else step for step in pipeline]

    normalised = {'model.data_preprocessor.mean': norm.siglip_mean,
                  'model.data_preprocessor.std': norm.siglip_std}
    trainers = {key: {'model.clip_model': arch,
                      'model.data_preprocessor': dict(norm.siglip_preprocessor),
                      'train_dataloader.dataset.pipeline': padded(key)}
                for key in ('stage1', 'stage2')}
    neck = Config.fromfile(config_path('fvit')).model.neck.in_channels
    return dict(trainers,
                seg=dict(normalised, **{'model.backbone.clip_model': arch,
                                        'model.decode_head.in_channels': width}),
                fvit=dict(normalised, **{'model.backbone.clip_model': arch,
                                         'model.neck.in_channels': [width] * len(neck)}))


@dataclass(frozen=True)
class DemoTower:
    """A tiny CLIP the demo can run on, and what it changes in the demo's configs."""

    kind: str  # refclip_mm.clip.tiny.tiny_arch's kind; towers are named 'tiny-<kind>@FILE'
    title: str  # the CLIP stage's title
    clip_name: str  # the CLIP weight file, under the work dir
    save: Callable[[str], None]  # writes the CLIP weight file (and what goes with it)
    # {config key (CONFIGS): cfg_options}, merged under the stages' own (data, weight files)
    options: Callable[[], Dict[str, dict]] = dict


DEMO_TOWERS = dict(
    openai=DemoTower('openai', 'a tiny random CLIP', 'tiny_clip.pth', _save_openai),
    siglip2=DemoTower('siglip2', 'a tiny random SigLIP 2 CLIP, its own tokenizer',
                      osp.join('tiny_siglip2', 'open_clip_model.safetensors'), _save_siglip2,
                      _siglip2_options),
)


def run_demo(work_dir: str, data_root: str, fast: bool = False, verbose: bool = False,
             stream=None, tower: str = 'openai') -> Dict[str, object]:
    """Run the demo's stages; returns ``{stage title: result}`` (see the module docstring).

    ``tower``: the tiny CLIP, a key of :data:`DEMO_TOWERS`.
    """
    from ..datasets.synthetic import dataset_is_complete, write_dataset
    if tower not in DEMO_TOWERS:
        raise ValueError(f'unknown demo tower {tower!r}; choose one of {sorted(DEMO_TOWERS)}')
    demo_tower = DEMO_TOWERS[tower]
    options = demo_tower.options()
    out = stream or sys.stdout
    work, data = work_dir, data_root
    os.makedirs(work, exist_ok=True)
    clip_file = osp.join(work, demo_tower.clip_name)
    refiner_file = osp.join(work, 'refiner_tiny.pth')
    tower_file = osp.join(work, 'stage2_tower.pth')
    iters = FAST_ITERS if fast else FULL_ITERS
    stages = StageLine(9, out)
    out.write(f'refclip_mm demo: {work} (training logs: console.log in each stage folder'
              f'{"" if not verbose else ", streamed"})\n')

    def log_file(stage_dir: str) -> Optional[str]:
        return None if verbose else osp.join(stage_dir, 'console.log')

    def note(message: str) -> None:
        if verbose:
            print(message, flush=True)

    def make_data(progress):
        if dataset_is_complete(data, ('train', 'val')):
            return 'existing dataset', data
        summary = write_dataset(data, dict(train=64, val=16), seed=0)
        return ', '.join(f'{k} {v["images"]} images' for k, v in summary.items()), data

    def make_clip(progress):
        demo_tower.save(clip_file)
        return clip_file, clip_file

    def config(key, data_options=None, **kwargs):
        """The config ``key`` with the tower's options and ``data_options`` (the data's)."""
        return load_config(config_path(key), cfg_options=dict(
            options.get(key, {}), **(data_options or {})), **kwargs)

    def stage1(progress):
        from ..models.refiner_file import export_refiner
        stage_dir = osp.join(work, 'stage1')
        cfg = config('stage1', {'train_dataloader.dataset.data_root': data,
                                'model.pretrained': clip_file}, work_dir=stage_dir)
        train(fit_schedule(cfg, iters['stage1']), log_file(stage_dir), progress)
        export_refiner(last_checkpoint(stage_dir), refiner_file)
        return refiner_file, refiner_file

    def stage2(progress):
        from ..models.trainers.convert import convert_stage2_checkpoint
        stage_dir = osp.join(work, 'stage2')
        cfg = config('stage2', {'train_dataloader.dataset.data_root': data,
                                'model.pretrained': clip_file}, work_dir=stage_dir)
        set_hook_options(cfg, 'SCDDistillHook', refiner_file=refiner_file)
        train(fit_schedule(cfg, iters['stage2']), log_file(stage_dir), progress)
        convert_stage2_checkpoint(last_checkpoint(stage_dir), tower_file, initial=clip_file,
                                  alpha=0.7)
        return tower_file, tower_file

    def tower_specs():
        """CLIP, CLIP + Refiner (RefinerBackbone) and the stage-2 tower."""
        from ..evaluation import parse_tower
        backbone = osp.join(work, 'refiner_backbone.py')
        tiny = config('stage1').model.clip_model.to_dict()
        with open(backbone, 'w') as f:
            f.write("default_scope = 'refclip_mm'\n"
                    f"dense_tower = dict(type='RefinerBackbone', clip_model={tiny!r}, "
                    f"pretrained={clip_file!r}, refiner_file={refiner_file!r}, "
                    "out_indices=(2, ))\n")
        return [parse_tower(item) for item in (f'clip=tiny-{demo_tower.kind}@{clip_file}',
                                               f'clip+refiner={backbone}',
                                               f'r-sc-rla=tiny-{demo_tower.kind}@{tower_file}')]

    def dense_quality(progress):
        from ..evaluation.compare import CompareOptions, compare_towers, write_report
        from ..evaluation.seg_folder import SegFolder, preset
        folder = SegFolder.scan(data, preset('synthetic'))
        options = CompareOptions(img_size=64, progress=verbose)
        rows, details = compare_towers(tower_specs(), folder, options, log=note)
        out_dir = osp.join(work, 'dense_quality')
        csv_path, _ = write_report(rows, details, dict(asdict(options), data_root=data), out_dir)
        return {row['tower']: round(row['mIoU'], 2) for row in rows}, csv_path

    def pictures(progress):
        from ..evaluation import build_dense_tower, save_png, stack_panels
        from ..evaluation.dense_visualization import tower_panels
        folder = osp.join(data, 'images', 'val')
        paths = [osp.join(folder, n) for n in sorted(os.listdir(folder))[:4]]
        towers = [build_dense_tower(spec) for spec in tower_specs()]
        path = osp.join(work, 'dense_vis', 'all.png')
        save_png(path, stack_panels(tower_panels(towers, paths, 64, cell=128)))
        return path, path

    def segmentation(progress):
        stage_dir = osp.join(work, 'segmentation')
        paths = {f'{loader}.dataset.data_root': data
                 for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
        paths['model.backbone.pretrained'] = tower_file
        cfg = fit_schedule(config('seg', paths, work_dir=stage_dir), iters['seg'])
        metrics = train_then_test(cfg, log_file(stage_dir), progress)
        return {k: round(v, 2) for k, v in metrics.items() if k in ('mIoU', 'aAcc')}, stage_dir

    fvit_dir = osp.join(work, 'fvit')
    class_embeddings = osp.join(work, 'class_embeddings.pth')

    def fvit_config(**kwargs):
        """The tiny F-ViT config on the stage-2 tower, the class embeddings and the scenes."""
        return config('fvit', scene_detector_options(tower_file, class_embeddings, data),
                      **kwargs)

    def detection(progress):
        from ..clip import build_clip, make_class_embeddings, save_class_embeddings
        from ..datasets.synthetic import THING_CLASSES
        clip = build_clip(config('fvit').model.backbone.clip_model.to_dict(), clip_file)
        save_class_embeddings(class_embeddings, make_class_embeddings(
            clip.text, list(THING_CLASSES), templates='single'))
        cfg = fit_schedule(fvit_config(work_dir=fvit_dir), iters['fvit'])
        metrics = train_then_test(cfg, log_file(fvit_dir), progress)
        return {k: round(v, 3) for k, v in ov_ap50(metrics).items()}, fvit_dir

    def your_words(progress):
        import mmcv
        from mmengine.logging import MMLogger

        from ..datasets.synthetic import NOVEL_THING_CLASSES
        from .inference import OVDetInferencer
        words = ['red square', 'blue circle', 'green triangle', NOVEL_THING_CLASSES[0]]
        image = osp.join(data, 'images', 'val', sorted(os.listdir(
            osp.join(data, 'images', 'val')))[0])
        out_dir = osp.join(work, 'your_words')
        with output_to(log_file(out_dir)):
            MMLogger.get_instance('refclip_mm_your_words')  # a logger on this output
            inferencer = OVDetInferencer(fvit_config(), last_checkpoint(fvit_dir), texts=words,
                                         clip_weights=clip_file, show_progress=False)
            # the 64 px scene shown 4 times larger, so that the labels can be read (the
            # detector sees it at its own 64 px: the config's test pipeline resizes it)
            large = mmcv.imrescale(mmcv.imread(image), 4, interpolation='nearest')
            inferencer(large, out_dir=out_dir, pred_score_thr=0.3)
        picture = osp.join(out_dir, 'vis', '00000000.jpg')
        return dict(words=', '.join(words)), picture

    stages.run('data: synthetic scenes', make_data)
    stages.run(demo_tower.title, make_clip)
    stages.run('stage 1: Refiner on the frozen CLIP', stage1)
    stages.run('stage 2: R-SC-RLA (CLIPSelf + SCD, refined teacher)', stage2)
    stages.run('dense quality (unsupervised segmentation mIoU)', dense_quality)
    stages.run('dense-feature pictures', pictures)
    stages.run('segmentation on the stage-2 tower (IoUMetric)', segmentation)
    stages.run('open-vocabulary detection: F-ViT (OVCocoMetric)', detection)
    stages.run('your words: the F-ViT on a val scene, with a class it never trained on',
               your_words)

    out.write('\nresults (a random tiny CLIP on generated scenes: the numbers show that the '
              'pipeline runs)\n')
    for title, result, _, _ in stages.rows:
        if isinstance(result, dict):
            out.write(f'  {title}: ' + ', '.join(f'{k} {v}' for k, v in result.items()) + '\n')
    out.write(f'  pictures: {osp.join(work, "dense_vis", "all.png")}\n'
              f'  your words: {stages.rows[-1][3]} (tools/infer.py does this for your '
              'images)\n'
              'Real weights and data: the full configs under configs/refiner, configs/rla, '
              'configs/fvit and configs/catseg;\neach starts with a block of the paths to edit '
              '(docs/getting_started.md).\n')
    out.flush()
    return {title: result for title, result, _, _ in stages.rows}
