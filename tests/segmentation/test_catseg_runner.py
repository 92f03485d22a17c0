"""The tiny Cat-Seg-style config trains a few iterations in mmengine's Runner and is evaluated
by mmseg's IoUMetric; mmseg's own tools/test.py runs it end to end."""
import glob
import os
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from refclip_mm.datasets.synthetic import SEMANTIC_CLASSES

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(REPO, 'configs', 'catseg', 'catseg_clip-tiny_1xb4-20i_synthetic-64.py')


def tiny_cfg(synthetic_root, assets, work_dir, iters=4):
    cfg = Config.fromfile(TINY)
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.pretrained = assets['weights']
    cfg.model.decode_head.class_embeddings = assets['embeddings']
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = synthetic_root
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    return cfg


@pytest.fixture(scope='module')
def trained(synthetic_root, tiny_assets, tmp_path_factory):
    """Train the tiny config for 4 iterations; return (runner, val metrics, weights before)."""
    work_dir = tmp_path_factory.mktemp('catseg_tiny')
    runner = Runner.from_cfg(tiny_cfg(synthetic_root, tiny_assets, work_dir))
    before = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    metrics = runner.val_loop.run()
    return runner, metrics, before, str(work_dir)


def test_tiny_catseg_trains_and_iou_metric_evaluates(trained):
    runner, metrics, before, work_dir = trained
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'}
    assert 0.0 <= metrics['mIoU'] <= 100.0 and metrics['aAcc'] > 0.0
    after = runner.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # the head trains; in the CLIP tower only the attention layers (finetune='attention')
    assert any(k.startswith('decode_head.layers.') for k in changed)
    tower = {k for k in changed if k.startswith('backbone.tower.')}
    assert tower and all('.attn.' in k for k in tower), sorted(tower)[:5]
    assert 'backbone.tower.visual.conv1.weight' not in changed
    # class embeddings are not part of the checkpoint (they come from the files)
    assert not any('embeddings' in k for k in after)
    log = open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    losses = [float(x) for x in re.findall(r'loss: ([0-9.]+)', log)]
    assert len(losses) == 4 and all(l == l and l < 20 for l in losses)  # noqa: E741
    assert 'open-vocabulary train classes: 24' in log


def test_mmseg_tools_test_runs_the_tiny_config(trained, synthetic_root, tiny_assets, run_python,
                                               tmp_path):
    import mmseg
    _, metrics, _, work_dir = trained
    checkpoint = osp.join(work_dir, 'iter_4.pth')
    assert osp.isfile(checkpoint)
    mmseg_test = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'test.py')
    assert osp.isfile(mmseg_test)
    options = [f'model.backbone.pretrained={tiny_assets["weights"]}',
               f'model.decode_head.class_embeddings={tiny_assets["embeddings"]}',
               f'test_dataloader.dataset.data_root={synthetic_root}',
               f'train_dataloader.dataset.data_root={synthetic_root}',
               f'val_dataloader.dataset.data_root={synthetic_root}']
    env = dict(PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = run_python([mmseg_test, TINY, checkpoint, '--work-dir', str(tmp_path),
                       '--cfg-options'] + options, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.search(r'mIoU: ([0-9.]+)', proc.stdout + proc.stderr)
    assert found, (proc.stdout + proc.stderr)[-2000:]
    assert abs(float(found.group(1)) - metrics['mIoU']) < 0.02  # same weights, same data
    assert len(SEMANTIC_CLASSES) == 24


def test_a_trained_checkpoint_is_tested_without_the_clip_file(trained, synthetic_root,
                                                              tiny_assets, tmp_path):
    """As the shipped *_test-<set>.py configs do: pretrained=None, the tower from the checkpoint."""
    _, metrics, _, work_dir = trained
    cfg = tiny_cfg(synthetic_root, tiny_assets, tmp_path)
    cfg.model.backbone.pretrained = None
    cfg.load_from = osp.join(work_dir, 'iter_4.pth')
    assert metrics == pytest.approx(Runner.from_cfg(cfg).test(), abs=1e-6)
    shipped = glob.glob(osp.join(REPO, 'configs', 'catseg', 'catseg_*_test-*.py'))
    assert len(shipped) == 18  # 6 sets x (OpenAI B/16, L/14, SigLIP 2 B/16)
    for path in shipped:
        assert Config.fromfile(path).model.backbone.pretrained is None, path


def test_a_missing_clip_file_names_the_config_key(tmp_path):
    from refclip_mm.clip import TINY_OPENAI_ARCH
    from refclip_mm.models.segmentors import CatSegCLIPViT
    with pytest.raises(FileNotFoundError, match=r'model\.backbone\.pretrained.*--checkpoint'):
        CatSegCLIPViT(clip_model=dict(TINY_OPENAI_ARCH), pretrained=str(tmp_path / 'none.pt'))
