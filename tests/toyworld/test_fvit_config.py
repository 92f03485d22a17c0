"""The ToyWorld F-ViT config (what the pipeline step and the schedule sweep train) and the
AP50 values read back from its metric."""
import pytest

from refclip_mm.apis import ov_ap50
from refclip_mm.toyworld.pipeline import fvit_config


def scales(cfg):
    return {split: [t['scale'] for t in getattr(cfg, f'{split}_dataloader').dataset.pipeline
                    if 'scale' in t] for split in ('train', 'val', 'test')}


def test_paths_seed_and_schedule_reach_the_config(tmp_path):
    cfg = fvit_config('tower.pth', 'things.pth', '/data/scenes', str(tmp_path), seed=3, iters=40)
    assert cfg.model.backbone.pretrained == 'tower.pth'
    assert cfg.model.roi_head.bbox_head.class_embeddings == 'things.pth'
    for split in ('train', 'val', 'test'):
        assert getattr(cfg, f'{split}_dataloader').dataset.data_root == '/data/scenes/'
    assert cfg.test_evaluator.ann_file == '/data/scenes/annotations/instances_val.json'
    assert cfg.randomness.seed == 3 and cfg.train_cfg.max_iters == 40
    assert cfg.param_scheduler[0].end == 4  # warm-up: a tenth of the steps
    assert all(s == [(192, 192)] for s in scales(cfg).values())  # the config's own size
    assert cfg.optim_wrapper.optimizer.lr == 1e-3


def test_learning_rate_and_image_size_are_set_everywhere(tmp_path):
    cfg = fvit_config('t.pth', 'x.pth', 'd', str(tmp_path), seed=0, iters=1200, lr=1e-4,
                      image_size=64)
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert all(s == [(64, 64)] for s in scales(cfg).values())
    assert cfg.param_scheduler[0].end == 50 and cfg.param_scheduler[1].milestones == [960]


def test_ov_ap50_reads_base_and_novel_and_names_what_is_missing():
    metrics = {'coco/base_ap50': 0.25, 'coco/novel_ap50': 0.125, 'coco/bbox_mAP': 0.1}
    assert ov_ap50(metrics) == {'base_ap50': 0.25, 'novel_ap50': 0.125}
    with pytest.raises(RuntimeError, match="coco/bbox_mAP.*expected base/novel AP50"):
        ov_ap50({'coco/bbox_mAP': 0.1, 'coco/base_ap50': 0.25})
