"""Stage-2 boxes: random grid cells and region proposals, through resize and packing."""
import json

import numpy as np
import pytest
import torch

from refclip_mm.datasets import LoadRegionProposals, RandomGridBoxes, ResizeLongestSidePad
from refclip_mm.datasets.transforms import PackImageInputs
from refclip_mm.models.trainers.boxes import sample_grid_boxes


def test_grid_boxes_tile_the_valid_region():
    """The transform asks for a grid; the stage-2 model draws it (sample_grid_boxes)."""
    generator = torch.Generator().manual_seed(0)
    transform = RandomGridBoxes(max_split=6, max_boxes=20)
    for _ in range(50):
        out = transform(dict(img=np.zeros((64, 64, 3), np.uint8), valid_shape=(40, 64)))
        assert out['grid_boxes'] == (6, 20) and 'boxes' not in out
        boxes = sample_grid_boxes(out['valid_shape'], *out['grid_boxes'],
                                  generator=generator).numpy()
        assert 1 <= len(boxes) <= 20
        assert boxes[:, 0].min() >= 0 and boxes[:, 2].max() <= 64 + 1e-4
        assert boxes[:, 1].min() >= 0 and boxes[:, 3].max() <= 40 + 1e-4
        if len(boxes) < 20:  # a full grid covers the valid region exactly once
            area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sum()
            assert area == pytest.approx(40 * 64, rel=1e-4)


def test_proposals_are_ranked_filtered_rescaled_and_packed(tmp_path):
    proposals = {'sub/a.jpg': [[0, 0, 10, 10, 0.1], [0, 0, 40, 20, 0.9], [5, 5, 6, 6, 1.0]]}
    path = tmp_path / 'proposals.json'
    path.write_text(json.dumps(proposals))
    results = dict(img_path='/data/coco/train/sub/a.jpg', img=np.zeros((50, 100, 3), np.uint8))
    results = LoadRegionProposals(str(path), max_proposals=20, min_size=4)(results)
    assert results['boxes'].tolist() == [[0, 0, 40, 20], [0, 0, 10, 10]]  # by score, tiny one gone
    results = ResizeLongestSidePad(size=50)(results)
    assert results['boxes'].tolist() == [[0, 0, 20, 10], [0, 0, 5, 5]]
    packed = PackImageInputs()(results)
    assert packed['data_samples'].boxes.shape == (2, 4)


def test_missing_or_empty_proposals_name_the_image(tmp_path):
    path = tmp_path / 'proposals.json'
    path.write_text(json.dumps({'a.jpg': [[0, 0, 1, 1]]}))
    transform = LoadRegionProposals(str(path), min_size=4)
    with pytest.raises(KeyError, match='b.jpg'):
        transform(dict(img_path='x/b.jpg'))
    with pytest.raises(ValueError, match='a.jpg'):
        transform(dict(img_path='x/a.jpg'))
    with pytest.raises(FileNotFoundError, match='nope.json'):
        LoadRegionProposals(str(tmp_path / 'nope.json'))


def test_dataset_proposal_file_feeds_the_transform_and_names_missing_images(tmp_path):
    import cv2

    from refclip_mm.datasets import UnlabeledImageDataset
    (tmp_path / 'imgs').mkdir()
    for name in ('a.png', 'b.png'):
        cv2.imwrite(str(tmp_path / 'imgs' / name), np.zeros((20, 30, 3), np.uint8))
    (tmp_path / 'props.json').write_text(json.dumps({'a.png': [[0, 0, 10, 10, 0.5]],
                                                    'b.png': [[2, 2, 20, 12]]}))
    dataset = UnlabeledImageDataset(data_root=str(tmp_path), data_prefix=dict(img='imgs/'),
                                    proposal_file='props.json',
                                    pipeline=[LoadRegionProposals()])
    assert dataset[1]['boxes'].tolist() == [[2, 2, 20, 12]]
    (tmp_path / 'props.json').write_text(json.dumps({'a.png': [[0, 0, 10, 10]]}))
    with pytest.raises(KeyError, match=r"1 of 2 images.*props\.json.*b\.png"):
        UnlabeledImageDataset(data_root=str(tmp_path), data_prefix=dict(img='imgs/'),
                              proposal_file='props.json')
    with pytest.raises(KeyError, match='train_dataloader.dataset.proposal_file'):
        LoadRegionProposals()(dict(img_path='a.png'))
