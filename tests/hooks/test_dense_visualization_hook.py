"""DenseVisualizationHook inside real (tiny) training runs."""
import glob
import os.path as osp

import cv2
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from refclip_mm.evaluation import panel_size
from refclip_mm.hooks.dense_visualization_hook import DenseVisualizationHook

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1 = osp.join(REPO, 'configs', 'refiner', 'refiner_clip-tiny_1xb4-40i_synthetic-64.py')
DEMO_SEG = osp.join(REPO, 'configs', 'demo', 'fcn_clipvit-tiny_200i_synthetic-64.py')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def _short(cfg, work_dir, iters):
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.pop('val_interval', None)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.log_level = 'WARNING'
    return cfg


def test_hook_draws_during_tiny_stage1_training(synthetic_root, tiny_clip_file, tmp_path):
    cfg = Config.fromfile(STAGE1)
    cfg.train_dataloader.dataset.data_root = synthetic_root
    cfg.model.pretrained = tiny_clip_file  # the config's default lives in data/demo
    cfg = _short(cfg, tmp_path, 4)
    cfg.custom_hooks = [dict(type='DenseVisualizationHook', interval=2, num_images=2, cell=48,
                             num_clusters=4)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4 and runner.model.training
    saved = sorted(glob.glob(osp.join(str(tmp_path), 'dense_vis', '*.png')))
    assert [osp.basename(p) for p in saved] == [
        'dense_features_iter_0.png', 'dense_features_iter_2.png', 'dense_features_iter_4.png']
    height, width = panel_size(1, 48)
    image = cv2.imread(saved[-1])
    assert image.shape == (2 * height + 4, width, 3)     # two images stacked, one tower column
    # the visualizer's LocalVisBackend received the same pictures
    logged = glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'vis_image', 'dense_features_*.png'))
    assert len(logged) == 3
    hook = next(h for h in runner.hooks if isinstance(h, DenseVisualizationHook))
    assert hook.last_path == saved[-1] and hook.last_panel.shape == image.shape


def test_hook_on_a_segmentor_backbone_with_image_paths(synthetic_root, tmp_path):
    cfg = Config.fromfile(DEMO_SEG)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = synthetic_root
    cfg.train_dataloader.batch_size = 2
    cfg = _short(cfg, tmp_path, 1)
    images = sorted(glob.glob(osp.join(synthetic_root, 'images', 'val', '*.jpg')))[:1]
    cfg.custom_hooks = [dict(type='DenseVisualizationHook', interval=1, dense_attrs=['backbone'],
                             names=['CLIPViT'], image_paths=images, img_size=48, cell=40,
                             draw_at_start=False)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    saved = glob.glob(osp.join(str(tmp_path), 'dense_vis', '*.png'))
    assert [osp.basename(p) for p in saved] == ['dense_features_iter_1.png']
    assert cv2.imread(saved[0]).shape == panel_size(1, 40) + (3, )


def test_hook_arguments_are_checked():
    with pytest.raises(ValueError, match='one title per dense_attrs entry'):
        DenseVisualizationHook(dense_attrs=['a', 'b'], names=['x'])
    with pytest.raises(ValueError, match='interval must be a positive'):
        DenseVisualizationHook(interval=0)
