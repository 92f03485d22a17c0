"""The main job on the embedded default: the whole pipeline on generated scenes and a tiny CLIP.

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/demo] [--fast]
    python tools/demo.py --toyworld [--work-dir work_dirs/toyworld-quick]

Stages (each prints its progress; outputs under --work-dir):

1. data: synthetic scenes (COCO instances + captions, semantic maps) in --data-root;
2. a tiny randomly initialised CLIP (3 blocks, width 64, patch 8) saved as weights;
3. stage 1: train the Refiner on the frozen tiny CLIP, export it;
4. stage 2: R-SC-RLA (CLIPSelf + SCD with the refined teacher), convert the tower;
5. dense quality (unsupervised segmentation mIoU) of CLIP, CLIP + Refiner and the stage-2
   tower, and pictures of their dense features;
6. downstream: an mmseg segmentor on the stage-2 tower, trained and tested (IoUMetric);
7. downstream: a tiny F-ViT open-vocabulary detector on the stage-2 tower, trained on the base
   classes and tested with mmdet's OVCocoMetric (base and novel AP50).

The default is a *random* tiny CLIP, so the numbers show that the pipeline runs, not what
the method achieves with real CLIP weights. ``--toyworld`` runs instead the quick ToyWorld
(tools/toyworld.py --quick, docs/toyworld.md, <= 15 minutes on 2 cores): a CLIP pre-trained on
generated scene-caption pairs, then the same stages for CLIPSelf, RegionCLIP, SC-RLA and
R-SC-RLA, and a table whose numbers mean something at that scale. To use real ones, run the same stages with the
configs under configs/refiner, configs/rla, configs/fvit and configs/catseg, each of which names
its CLIP weight file and data root (docs/training.md, docs/detection.md, docs/segmentation.md).
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.clip.tiny import save_tiny_clip  # noqa: E402
from refclip_mm.datasets.synthetic import dataset_is_complete, write_dataset  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = dict(
    stage1=osp.join(REPO, 'configs', 'refiner', 'refiner_clip-tiny_1xb4-40i_synthetic-64.py'),
    stage2=osp.join(REPO, 'configs', 'rla', 'clipself-patches-rsc_clip-tiny_1xb4-20i_synthetic-64.py'),
    seg=osp.join(REPO, 'configs', 'demo', 'fcn_clipvit-tiny_200i_synthetic-64.py'),
    fvit=osp.join(REPO, 'configs', 'fvit', 'fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py'),
)


class Stages:
    """Runs the stages in order and keeps a summary row per stage."""

    def __init__(self):
        self.rows = []
        self.count = 0

    def run(self, title, fn):
        self.count += 1
        print(f'\n=== {self.count}. {title} ===', flush=True)
        start = time.time()
        result = fn()
        seconds = time.time() - start
        print(f'--- {title}: done in {seconds:.0f} s', flush=True)
        self.rows.append((title, result, seconds))
        return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(REPO, 'data', 'demo'))
    parser.add_argument('--fast', action='store_true', help='fewer iterations (for tests)')
    parser.add_argument('--toyworld', action='store_true',
                        help='use a CLIP pre-trained on the ToyWorld (tools/toyworld.py --quick)')
    args, rest = parser.parse_known_args(argv)
    if args.toyworld:
        import toyworld
        work_dir = [] if args.work_dir == parser.get_default('work_dir') else [
            '--work-dir', args.work_dir]
        return toyworld.main(['--quick', *work_dir, *rest])
    if rest:
        parser.error(f'unrecognized arguments: {" ".join(rest)}')
    import convert_checkpoint
    import eval_dense_quality
    import export_refiner
    import test as test_tool
    import train as train_tool
    import visualize_dense

    work, data = args.work_dir, args.data_root
    os.makedirs(work, exist_ok=True)
    clip_file = osp.join(work, 'tiny_clip.pth')
    refiner_file = osp.join(work, 'refiner_tiny.pth')
    tower_file = osp.join(work, 'stage2_tower.pth')
    iters = dict(stage1=8, stage2=6, seg=20, fvit=4) if args.fast else dict(
        stage1=40, stage2=20, seg=200, fvit=40)
    stages = Stages()

    def make_data():
        if dataset_is_complete(data, ('train', 'val')):
            return f'existing dataset {data}'
        summary = write_dataset(data, dict(train=64, val=16), seed=0)
        return f'{data}: ' + ', '.join(f'{k} {v["images"]} images' for k, v in summary.items())

    def make_clip():
        save_tiny_clip(clip_file)
        return clip_file

    def data_options(loaders=('train_dataloader', )):
        return [f'{loader}.dataset.data_root={data}' for loader in loaders]

    def stage1():
        stage_dir = osp.join(work, 'stage1')
        train_tool.main([CONFIGS['stage1'], '--work-dir', stage_dir, '--cfg-options',
                         *data_options(), f'model.pretrained={clip_file}',
                         f'train_cfg.max_iters={iters["stage1"]}',
                         f'param_scheduler.0.T_max={iters["stage1"]}',
                         f'param_scheduler.0.end={iters["stage1"]}',
                         f'default_hooks.checkpoint.interval={iters["stage1"]}'])
        export_refiner.main([last_checkpoint(stage_dir), refiner_file])
        return refiner_file

    def stage2():
        stage_dir = osp.join(work, 'stage2')
        train_tool.main([CONFIGS['stage2'], '--work-dir', stage_dir, '--cfg-options',
                         *data_options(), f'model.pretrained={clip_file}',
                         f'custom_hooks.0.refiner={refiner_file}',
                         f'train_cfg.max_iters={iters["stage2"]}',
                         f'default_hooks.checkpoint.interval={iters["stage2"]}'])
        convert_checkpoint.main([last_checkpoint(stage_dir), tower_file, '--initial', clip_file,
                                 '--alpha', '0.7'])
        return tower_file

    def towers():
        """The three towers compared: CLIP, CLIP + Refiner (RefinerBackbone), stage 2."""
        config = osp.join(work, 'refiner_backbone.py')
        with open(config, 'w') as f:
            f.write("default_scope = 'refclip_mm'\n"
                    f"_tiny = {load_config(CONFIGS['stage1']).tiny_clip.to_dict()!r}\n"
                    f"dense_tower = dict(type='RefinerBackbone', clip_model=_tiny, "
                    f"pretrained={clip_file!r}, refiner_checkpoint={refiner_file!r}, "
                    "out_indices=(2, ))\n")
        return [f'clip=tiny-openai@{clip_file}', f'clip+refiner={config}',
                f'r-sc-rla=tiny-openai@{tower_file}']

    def tower_args():
        return sum((['--tower', t] for t in towers()), [])

    def dense_quality():
        out_dir = osp.join(work, 'dense_quality')
        rows = eval_dense_quality.main([*tower_args(), '--dataset', 'synthetic', '--data-root',
                                        data, '--img-size', '64', '--out-dir', out_dir])
        return {row['tower']: round(row['mIoU'], 2) for row in rows}

    def pictures():
        out_dir = osp.join(work, 'dense_vis')
        visualize_dense.main([osp.join(data, 'images', 'val'), *tower_args(), '--img-size', '64',
                              '--cell', '128', '--max-images', '4', '--out-dir', out_dir,
                              '--stack', osp.join(out_dir, 'all.png')])
        return osp.join(out_dir, 'all.png')

    def segmentation():
        stage_dir = osp.join(work, 'segmentation')
        loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
        options = [*data_options(loaders), f'model.backbone.pretrained={tower_file}',
                   f'train_cfg.max_iters={iters["seg"]}', f'train_cfg.val_interval={iters["seg"]}',
                   f'default_hooks.checkpoint.interval={iters["seg"]}',
                   f'param_scheduler.0.end={iters["seg"]}']
        train_tool.main([CONFIGS['seg'], '--work-dir', stage_dir, '--cfg-options', *options])
        metrics = test_tool.main([CONFIGS['seg'], last_checkpoint(stage_dir), '--work-dir',
                                  stage_dir, '--cfg-options', *options])
        return {k: round(v, 2) for k, v in metrics.items() if k in ('mIoU', 'aAcc')}

    def detection():
        from refclip_mm.clip import build_clip, make_class_embeddings, save_class_embeddings
        from refclip_mm.datasets.synthetic import THING_CLASSES
        stage_dir = osp.join(work, 'fvit')
        embeddings = osp.join(work, 'class_embeddings.pth')
        clip = build_clip(load_config(CONFIGS['fvit']).tiny_clip.to_dict(), clip_file)
        save_class_embeddings(embeddings, make_class_embeddings(clip.text, list(THING_CLASSES),
                                                                templates='single'))
        root = data.rstrip('/') + '/'
        options = [f'model.backbone.pretrained={tower_file}',
                   f'model.roi_head.bbox_head.class_embeddings={embeddings}',
                   f'train_dataloader.dataset.data_root={root}',
                   f'train_cfg.max_iters={iters["fvit"]}', f'train_cfg.val_interval={iters["fvit"]}',
                   f'default_hooks.checkpoint.interval={iters["fvit"]}']
        for split in ('val', 'test'):
            options += [f'{split}_dataloader.dataset.data_root={root}',
                        f'{split}_evaluator.ann_file={root}annotations/instances_val.json']
        train_tool.main([CONFIGS['fvit'], '--work-dir', stage_dir, '--cfg-options', *options])
        metrics = test_tool.main([CONFIGS['fvit'], last_checkpoint(stage_dir), '--work-dir',
                                  stage_dir, '--cfg-options', *options])
        return {k.split('/')[-1]: round(v, 3) for k, v in metrics.items()
                if k.endswith(('base_ap50', 'novel_ap50'))}

    stages.run('data: synthetic scenes', make_data)
    stages.run('a tiny random CLIP', make_clip)
    stages.run('stage 1: Refiner on the frozen CLIP', stage1)
    stages.run('stage 2: R-SC-RLA (CLIPSelf + SCD with the refined teacher)', stage2)
    stages.run('dense quality (unsupervised segmentation mIoU)', dense_quality)
    stages.run('dense-feature pictures', pictures)
    stages.run('segmentation on the stage-2 tower (mmseg IoUMetric)', segmentation)
    stages.run('open-vocabulary detection: F-ViT on the stage-2 tower (OVCocoMetric)', detection)

    print('\n=== summary ===')
    print('This demo uses a small randomly initialised CLIP on generated scenes: its numbers show')
    print('that the pipeline runs, not what a real CLIP reaches (see docs/getting_started.md).')
    print('Real weights and data: run the full configs (configs/refiner, configs/rla, configs/fvit,')
    print('configs/catseg); each names its local CLIP weight file (clip_pretrained, clip_weights or')
    print('model.backbone.pretrained) and its dataset folder (data_root) at the top.')
    for title, result, seconds in stages.rows:
        print(f'{title:<70} {seconds:5.0f} s  {result}')
    return {title: result for title, result, _ in stages.rows}


def last_checkpoint(work_dir):
    """The checkpoint named by mmengine's ``last_checkpoint`` file in ``work_dir``."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def load_config(path):
    from mmengine.config import Config
    return Config.fromfile(path)


if __name__ == '__main__':
    main()
