"""tools/make_proposals.py: an mmdet RPN (random weights) over generated images -> the proposal file."""
import json
import os.path as osp
import sys

import mmcv
import numpy as np
import pytest
import torch

from refclip_mm.datasets import UnlabeledImageDataset
from refclip_mm.datasets.proposals import init_model, list_images, select_proposals

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools'))
from make_proposals import main as make_proposals  # noqa: E402

# a stock mmdet RPN with a ResNet-18 of 1/8 width; 64 px test scale
RPN_CONFIG = '''
default_scope = 'mmdet'
model = dict(
    type='RPN',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=18, base_channels=8, num_stages=4, out_indices=(0, 1, 2, 3),
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True, style='pytorch'),
    neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16, num_outs=5),
    rpn_head=dict(
        type='RPNHead', in_channels=16, feat_channels=16,
        anchor_generator=dict(type='AnchorGenerator', scales=[4], ratios=[0.5, 1.0, 2.0],
                              strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=None,
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=80, nms=dict(type='nms', iou_threshold=0.9),
                           min_bbox_size=0)))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor')),
]
test_dataloader = dict(batch_size=1, dataset=dict(type='CocoDataset', pipeline=test_pipeline))
'''
# (h, w) of the generated images, non-square, larger than the 64 px test scale
SIZES = {'wide.png': (48, 96), 'sub/tall.jpg': (160, 80), 'sub/big.png': (120, 200)}


@pytest.fixture(scope='module')
def rpn(tmp_path_factory):
    """``dict(config, checkpoint, images)``: the RPN config, random weights, a folder of images."""
    root = tmp_path_factory.mktemp('proposals')
    config = str(root / 'rpn_tiny.py')
    with open(config, 'w') as f:
        f.write(RPN_CONFIG)
    torch.manual_seed(0)
    model = init_model(config, None)
    checkpoint = str(root / 'rpn_tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    rng = np.random.default_rng(0)
    images = root / 'images'
    for name, (h, w) in SIZES.items():
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        img[h // 4:h // 2, w // 3:w // 2] = 255
        mmcv.imwrite(img, str(images / name))
    (images / 'notes.txt').write_text('not an image')
    return dict(config=config, checkpoint=checkpoint, images=str(images), model=model)


def test_rpn_proposals_are_written_in_original_pixels(rpn, tmp_path):
    from mmdet.apis import inference_detector
    out = str(tmp_path / 'proposals.json')
    returned = make_proposals([rpn['config'], rpn['checkpoint'], rpn['images'], out,
                               '--max-per-image', '30'])
    with open(out) as f:
        written = json.load(f)
    assert written == returned and set(written) == set(SIZES)
    for name, (h, w) in SIZES.items():
        boxes = np.array(written[name])
        assert boxes.shape[1] == 5 and 1 <= len(boxes) <= 30
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= w).all()
        assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= h).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (np.diff(boxes[:, 4]) <= 0).all()  # best first
        # original pixels, not the 64 px test scale: the boxes reach the far side of the image
        assert boxes[:, 2].max() > 0.8 * w and boxes[:, 3].max() > 0.8 * h
    # every written box is one of mmdet's own predictions for that image (clipped to it)
    sample = inference_detector(rpn['model'], osp.join(rpn['images'], 'sub/big.png'))
    pred = sample.pred_instances.bboxes.clone()
    pred[:, 0::2] = pred[:, 0::2].clamp(0, 200)
    pred[:, 1::2] = pred[:, 1::2].clamp(0, 120)
    for box in written['sub/big.png']:
        assert (pred - torch.tensor(box[:4])).abs().max(dim=1).values.min() <= 0.06


def test_the_written_file_feeds_the_proposal_pipeline(rpn, tmp_path):
    out = str(tmp_path / 'proposals.json')
    make_proposals([rpn['config'], rpn['checkpoint'], rpn['images'], out, '--min-size', '4'])
    # the dataset and transforms of configs/_base_/datasets/coco_rla_proposals_1024.py, at 64 px
    dataset = UnlabeledImageDataset(data_root='', data_prefix=dict(img=rpn['images']),
                                    proposal_file=out, pipeline=[
                                        dict(type='LoadImageChecked', on_unreadable='raise'),
                                        dict(type='LoadRegionProposals', max_proposals=20),
                                        dict(type='ResizeLongestSidePad', size=64),
                                        dict(type='PackImageInputs')])
    assert len(dataset) == len(SIZES)
    for index in range(len(dataset)):
        item = dataset[index]
        boxes = item['data_samples'].boxes
        assert 1 <= len(boxes) <= 20
        assert boxes.min() >= 0 and boxes.max() <= 64 + 1e-3


def test_selection_clips_dedupes_and_ranks():
    bboxes = torch.tensor([[-5., 0, 20, 20], [0, 0, 20, 21], [30, 30, 200, 90], [10, 10, 11, 60]])
    scores = torch.tensor([0.5, 0.9, 0.3, 0.8])
    rows = select_proposals(bboxes, scores, (50, 100), max_per_image=10, min_size=2, nms_iou=0.7)
    assert rows == [[0.0, 0.0, 20.0, 21.0, 0.9], [30.0, 30.0, 100.0, 50.0, 0.3]]
    rows = select_proposals(bboxes, scores, (50, 100), max_per_image=2, nms_iou=None)
    assert [r[4] for r in rows] == [0.9, 0.8]


def test_bad_inputs_are_named(rpn, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        make_proposals([rpn['config'], str(tmp_path / 'nope.pth'), rpn['images'],
                        str(tmp_path / 'p.json')])
    with pytest.raises(ValueError, match='no images'):
        list_images(str(tmp_path))
