"""The pinned OpenMMLab stack works: mmcv ops run on CPU, mmdet/mmseg/open_clip import."""
import importlib
import json

import pytest
import torch


def test_mmcv_roi_align_averages_the_box():
    from mmcv.ops import RoIAlign
    feat = torch.arange(16.).view(1, 1, 4, 4)  # value = 4 * y + x at pixel centres
    roi = torch.tensor([[0., 0., 0., 2., 2.]])  # box covering pixels x, y in {0, 1}
    out = RoIAlign(output_size=1, spatial_scale=1.0, sampling_ratio=2, aligned=True)(feat, roi)
    # bilinear samples at (0.5, 0.5), (0.5, 1.5)... average of the 2x2 top-left block
    assert out.shape == (1, 1, 1, 1)
    assert out.item() == pytest.approx((0 + 1 + 4 + 5) / 4)


def test_mmcv_batched_nms_suppresses_overlaps_within_a_class_only():
    from mmcv.ops import batched_nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [0., 0., 10., 10.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    classes = torch.tensor([0, 0, 1])
    dets, keep = batched_nms(boxes, scores, classes, dict(type='nms', iou_threshold=0.5))
    assert sorted(keep.tolist()) == [0, 2]
    assert dets.shape == (2, 5)


@pytest.mark.parametrize('module,version', [
    ('mmengine', '0.10.7'), ('mmcv', '2.1.0'), ('mmdet', '3.3.0'), ('mmseg', '1.2.2'),
    ('open_clip', '3.3.0'), ('transformers', '5.25.0'), ('tokenizers', '0.23.3')])
def test_pinned_versions(module, version):
    imported = importlib.import_module(module)
    assert imported.__version__ == version


def test_numpy_is_1x_and_lvis_eval_runs(tmp_path):
    import numpy as np
    assert np.__version__.startswith('1.')
    from lvis import LVIS, LVISEval, LVISResults

    import refclip_mm  # noqa: F401  (applies the lvis fix)
    gt = dict(
        images=[dict(id=1, width=100, height=100, neg_category_ids=[], not_exhaustive_category_ids=[])],
        categories=[dict(id=1, name='a', frequency='r'), dict(id=2, name='b', frequency='f')],
        annotations=[dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 30, 30], area=900),
                     dict(id=2, image_id=1, category_id=2, bbox=[50, 50, 20, 20], area=400)])
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    lvis_gt = LVIS(str(tmp_path / 'gt.json'))
    perfect = [dict(image_id=1, category_id=1, bbox=[10, 10, 30, 30], score=0.9),
               dict(image_id=1, category_id=2, bbox=[50, 50, 20, 20], score=0.8)]
    evaluator = LVISEval(lvis_gt, LVISResults(lvis_gt, perfect), iou_type='bbox')
    evaluator.run()
    assert evaluator.results['AP'] == pytest.approx(1.0)
    assert evaluator.results['APr'] == pytest.approx(1.0)


def test_requirements_pin_the_tested_tokenizer_stack():
    """requirements.txt pins what the tests run with (the SigLIP tokenizers' transformers)."""
    import os.path as osp
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    with open(osp.join(root, 'requirements.txt'), encoding='utf-8') as f:
        lines = [line.strip() for line in f]
    for package in ('transformers', 'tokenizers'):
        pins = [line for line in lines if line.startswith(package + '==')]
        assert pins == [f'{package}=={importlib.import_module(package).__version__}']


def test_model_libraries_import_with_transformers_installed():
    """mmdet.models imports transformers' BERT pieces when it can: with the pinned transformers
    present it still imports (a left-over mmpretrain would break it; tools/setup_env.sh removes
    one)."""
    import importlib.util
    assert importlib.util.find_spec('transformers') is not None
    assert importlib.util.find_spec('mmpretrain') is None
    importlib.import_module('mmdet.models')


def test_model_libraries_import():
    modules = [importlib.import_module(name)
               for name in ('mmdet.models', 'mmseg.models', 'open_clip')]
    assert [m.__name__ for m in modules] == ['mmdet.models', 'mmseg.models', 'open_clip']
    import open_clip
    assert 'ViT-B-16-quickgelu' in open_clip.list_models()  # the model names the configs use
    assert 'EVA02-B-16' in open_clip.list_models()
