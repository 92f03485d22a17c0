"""The shipped F-ViT test pipelines on non-square images: boxes stay inside the image.

The tiny F-ViT runs with the test pipeline and data preprocessor of the full-size OV-COCO and
OV-LVIS configs (scaled from their image size to 64 px), on generated images of 64 x 40 and
40 x 64 pixels, through the mask head (LVISMetric) and OVCocoMetric.
"""
import copy
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES, THING_CLASSES
from .conftest import REPO, TINY_COCO_CFG, TINY_LVIS_CFG, lvis_from_coco, tiny_options
from .test_fvit_runner import build_runner

FULL_COCO_CFG = osp.join(REPO, 'configs', 'fvit', 'fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py')
FULL_LVIS_CFG = osp.join(REPO, 'configs', 'fvit', 'fvit-mask-rcnn_vit-b16-openai_8xb8-48e_ov-lvis-1024.py')
SIZES = [(64, 40), (40, 64), (60, 36), (36, 60)]  # (width, height)


def write_non_square_coco(root: str) -> str:
    """Noise images of the SIZES with a few rectangles each; returns the COCO json path."""
    import cv2
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for index, (w, h) in enumerate(SIZES):
        name = f'img{index}.png'
        cv2.imwrite(osp.join(root, name), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        images.append(dict(id=index + 1, file_name=name, width=w, height=h))
        for k in range(3):
            x, y = float(rng.integers(0, w - 12)), float(rng.integers(0, h - 12))
            bw, bh = float(rng.integers(6, 12)), float(rng.integers(6, 12))
            annotations.append(dict(
                id=len(annotations) + 1, image_id=index + 1, category_id=(index * 3 + k) % 20 + 1,
                bbox=[x, y, bw, bh], area=bw * bh, iscrowd=0,
                segmentation=[[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]))
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(THING_CLASSES)]
    path = osp.join(root, 'instances.json')
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return path


def scaled(value, full: int, small: int):
    """``value`` with every ``(full, full)`` pair replaced by ``(small, small)``."""
    if isinstance(value, dict):
        return {k: scaled(v, full, small) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if tuple(value) == (full, full):
            return (small, small)
        return type(value)(scaled(v, full, small) for v in value)
    return value


def shipped_test_side(full_cfg_path: str, size: int) -> dict:
    """--cfg-options putting the full-size config's test pipeline and data preprocessor at 64 px."""
    full = Config.fromfile(full_cfg_path)
    preprocessor = scaled(full.model.data_preprocessor.to_dict(), size, 64)
    preprocessor.update(pad_size_divisor=16, _delete_=True)  # exactly the shipped one
    pipeline = scaled([dict(t) for t in full.test_pipeline], size, 64)
    options = {'model.data_preprocessor': preprocessor}
    for split in ('val', 'test'):
        options[f'{split}_dataloader.dataset.pipeline'] = pipeline
        options[f'{split}_dataloader.dataset.data_prefix.img'] = ''
    return options


@pytest.fixture(scope='module')
def non_square(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('non_square'))
    coco = write_non_square_coco(root)
    lvis = osp.join(root, 'lvis.json')
    lvis_from_coco(coco, lvis)
    novel = osp.join(root, 'novel.json')
    with open(novel, 'w') as f:
        json.dump(list(NOVEL_THING_CLASSES), f)
    return dict(root=root, coco=coco, lvis=lvis, novel=novel)


def predictions(runner):
    """Every test image's (ori_shape, pred_instances) from the runner's model."""
    dataset = runner.test_dataloader.dataset
    runner.model.eval()
    out = []
    for index in range(len(dataset)):
        batch = runner.test_dataloader.collate_fn([dataset[index]])
        with torch.no_grad():
            (sample, ) = runner.model.test_step(batch)
        out.append((sample.ori_shape, sample.pred_instances))
    return out


def assert_inside_images(preds):
    checked = 0
    for (h, w), inst in preds:
        boxes = inst.bboxes
        assert len(boxes) > 0
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        outside = (boxes[:, 2] > w + 1e-3) | (boxes[:, 3] > h + 1e-3)
        assert not outside.any(), f'{int(outside.sum())} of {len(boxes)} boxes leave the {w}x{h} image'
        checked += len(boxes)
    assert checked > 0


def test_ov_lvis_test_pipeline_masks_on_non_square_images(non_square, fvit_assets, tmp_path):
    options = tiny_options(non_square['root'], fvit_assets, test_ann=non_square['lvis'])
    options.update(shipped_test_side(FULL_LVIS_CFG, 1024))
    options.update({'model.roi_head.bbox_head.novel_classes': non_square['novel'],
                    'test_evaluator.ann_file': non_square['lvis'],
                    'val_evaluator.ann_file': non_square['lvis']})
    runner = build_runner(TINY_LVIS_CFG, options, tmp_path)
    metrics = runner.test()  # pastes every predicted mask into its image
    assert 'lvis/segm_AP' in metrics
    preds = predictions(runner)
    assert_inside_images(preds)
    for (h, w), inst in preds:
        assert tuple(inst.masks.shape[1:]) == (h, w)


def test_ov_coco_test_pipeline_on_non_square_images(non_square, fvit_assets, tmp_path):
    options = tiny_options(non_square['root'], fvit_assets, test_ann=non_square['coco'])
    options.update(shipped_test_side(FULL_COCO_CFG, 640))
    options.update({
        'test_dataloader.dataset.metainfo': copy.deepcopy(Config.fromfile(TINY_COCO_CFG).metainfo),
        'test_evaluator.ann_file': non_square['coco'], 'val_evaluator.ann_file': non_square['coco']})
    runner = build_runner(TINY_COCO_CFG, options, tmp_path)
    metrics = runner.test()
    assert 0.0 <= metrics['coco/novel_ap50'] <= 1.0
    preds = predictions(runner)
    assert_inside_images(preds)
    assert runner.model.data_preprocessor.fixed_size == (64, 64)
