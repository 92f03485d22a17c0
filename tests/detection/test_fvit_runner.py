"""Tiny F-ViT through mmengine's Runner: OV-COCO (OVCocoMetric) and OV-LVIS (LVISMetric, masks)."""
import glob
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES
from .conftest import REPO, TINY_COCO_CFG, TINY_LVIS_CFG, lvis_from_coco, tiny_options


def build_runner(path, options, work_dir):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    cfg.work_dir = str(work_dir)
    cfg.visualizer.vis_backends = []  # nothing written per image
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def coco_run(synthetic_root, fvit_assets, tmp_path_factory):
    """Train the tiny OV-COCO F-ViT 3 iterations, validate on the train split (has novel GT)."""
    work = tmp_path_factory.mktemp('fvit_coco')
    runner = build_runner(TINY_COCO_CFG, tiny_options(synthetic_root, fvit_assets), work)
    runner.train()
    metrics = runner.test()
    return dict(runner=runner, metrics=metrics, work=str(work))


def test_ov_coco_train_and_eval(coco_run, synthetic_root):
    metrics, runner = coco_run['metrics'], coco_run['runner']
    for key in ('coco/base_ap50', 'coco/novel_ap50', 'coco/bbox_mAP_50'):
        assert key in metrics
    # novel GT exists in the evaluated split, so pycocotools computed a value (not the -1 marker)
    assert 0.0 <= metrics['coco/novel_ap50'] <= 1.0 and 0.0 <= metrics['coco/base_ap50'] <= 1.0
    dataset = runner.train_dataloader.dataset
    labels = {inst['bbox_label'] for index in range(len(dataset))
              for inst in dataset.get_data_info(index)['instances']}
    novel = {dataset.metainfo['classes'].index(n) for n in NOVEL_THING_CLASSES}
    assert labels and not labels & novel  # training saw base classes only
    assert glob.glob(osp.join(coco_run['work'], 'best_coco_novel_ap50_iter_3.pth'))


def test_visualizer_draws_predictions(coco_run, synthetic_root):
    import numpy as np
    import torch
    from mmdet.visualization import DetLocalVisualizer
    runner = coco_run['runner']
    dataset = runner.test_dataloader.dataset
    batch = runner.test_dataloader.collate_fn([dataset[0]])
    runner.model.eval()
    with torch.no_grad():
        (sample, ) = runner.model.test_step(batch)
    assert sample.pred_instances.bboxes.shape[1] == 4 and len(sample.pred_instances) > 0
    assert sample.pred_instances.labels.max() < len(dataset.metainfo['classes'])
    vis = DetLocalVisualizer(name='fvit_vis_test')
    vis.dataset_meta = dataset.metainfo
    image = np.zeros((64, 64, 3), np.uint8)
    vis.add_datasample('x', image, sample, draw_gt=True, pred_score_thr=0.0)
    drawn = vis.get_image()
    assert drawn.shape[:2] == (64, 128) and drawn.any()  # ground truth | predictions


def test_class_order_mismatch_is_caught(synthetic_root, fvit_assets, tmp_path):
    cfg = Config.fromfile(TINY_COCO_CFG)
    names = list(cfg.classes)
    names[0], names[1] = names[1], names[0]
    options = tiny_options(synthetic_root, fvit_assets, iters=1)
    options['model.roi_head.bbox_head.class_names'] = names
    runner = build_runner(TINY_COCO_CFG, options, tmp_path)
    with pytest.raises(ValueError, match="class order mismatch.*'green square'"):
        runner.train()


def test_ov_lvis_train_and_eval_with_masks(synthetic_root, fvit_assets, tmp_path):
    ann = osp.join(synthetic_root, 'annotations')
    lvis_from_coco(osp.join(ann, 'instances_train.json'), osp.join(str(tmp_path), 'lvis.json'),
                   image_dir='train/')
    novel_file = osp.join(str(tmp_path), 'novel.json')
    with open(novel_file, 'w') as f:
        json.dump(list(NOVEL_THING_CLASSES), f)
    lvis = osp.join(str(tmp_path), 'lvis.json')
    options = tiny_options(synthetic_root, fvit_assets, train_ann=lvis, test_ann=lvis)
    options.update({'model.roi_head.bbox_head.novel_classes': novel_file,
                    'val_evaluator.ann_file': lvis, 'test_evaluator.ann_file': lvis,
                    'default_hooks.checkpoint.save_best': None})
    for split in ('train', 'val', 'test'):
        options[f'{split}_dataloader.dataset.data_prefix.img'] = 'images/'
    runner = build_runner(TINY_LVIS_CFG, options, tmp_path / 'work')
    runner.train()
    dataset = runner.train_dataloader.dataset
    assert sorted(dataset.metainfo['novel_classes']) == sorted(NOVEL_THING_CLASSES)
    metrics = runner.test()
    for key in ('lvis/bbox_APr', 'lvis/segm_APr', 'lvis/segm_APc', 'lvis/segm_APf'):
        assert key in metrics
    assert 0.0 <= metrics['lvis/segm_APr'] <= 1.0  # rare GT present: computed by lvis-api


def test_mmdet_tools_test_runs_the_tiny_config(coco_run, synthetic_root, fvit_assets, run_python,
                                               tmp_path):
    import mmdet
    script = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'test.py')
    (ckpt, ) = glob.glob(osp.join(coco_run['work'], 'iter_3.pth'))
    options = tiny_options(synthetic_root, fvit_assets)
    args = [script, TINY_COCO_CFG, ckpt, '--work-dir', str(tmp_path), '--cfg-options']
    args += [f'{k}={v}' for k, v in options.items()] + ['visualizer.vis_backends=[]']
    env = {'PYTHONPATH': REPO + os.pathsep + os.environ.get('PYTHONPATH', '')}
    proc = run_python(args, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'coco/novel_ap50' in proc.stdout + proc.stderr
