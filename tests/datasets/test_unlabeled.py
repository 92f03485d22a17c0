"""Unlabeled images: folder and COCO sources, resize + pad, and unreadable files."""
import json

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from refclip_mm.registry import DATASETS

PIPELINE = [dict(type='LoadImageChecked'), dict(type='ResizeLongestSidePad', size=32),
            dict(type='PackImageInputs')]


def write_images(folder, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(folder / f'{i}.png')


def build(**kwargs):
    init_default_scope('refclip_mm')
    return DATASETS.build(dict(type='UnlabeledImageDataset', pipeline=PIPELINE, **kwargs))


def test_folder_and_coco_sources(tmp_path):
    write_images(tmp_path / 'imgs' / 'sub', [(20, 40), (40, 10)])
    dataset = build(data_prefix=dict(img=str(tmp_path / 'imgs')))
    assert len(dataset) == 2
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 32, 32)
    assert sample['data_samples'].valid_shape == (16, 32)
    # the padding is the CLIP mean colour, the image keeps its value
    assert sample['inputs'][:, 0, 0].tolist() == [200, 200, 200]
    assert sample['inputs'][:, 31, 0].tolist() == [104, 117, 123]
    coco = dict(images=[dict(id=1, file_name='sub/1.png', width=10, height=40)])
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    dataset = build(data_root=str(tmp_path), ann_file='ann.json', data_prefix=dict(img='imgs'))
    assert len(dataset) == 1 and dataset[0]['data_samples'].valid_shape == (32, 8)


def test_unreadable_image_is_named_or_skipped_and_counted(tmp_path, caplog):
    write_images(tmp_path / 'imgs', [(8, 8)])
    (tmp_path / 'imgs' / 'broken.png').write_bytes(b'not an image')
    dataset = build(data_prefix=dict(img=str(tmp_path / 'imgs')))
    broken = [i for i in range(len(dataset)) if 'broken' in dataset.get_data_info(i)['img_path']]
    with pytest.raises(IOError, match='broken.png'):
        dataset[broken[0]]
    skipping = [dict(type='LoadImageChecked', on_unreadable='skip')] + PIPELINE[1:]
    init_default_scope('refclip_mm')
    dataset = DATASETS.build(dict(type='UnlabeledImageDataset', pipeline=skipping,
                                  data_prefix=dict(img=str(tmp_path / 'imgs'))))
    from refclip_mm.datasets.transforms import LoadImageChecked
    before = LoadImageChecked.skipped
    sample = dataset[broken[0]]  # falls back to the readable image
    assert 'broken' not in sample['data_samples'].img_path
    assert LoadImageChecked.skipped >= before + 1  # the random refetch may pick it again


def test_empty_folder_and_missing_files_are_named(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images'):
        build(data_prefix=dict(img=str(tmp_path / 'empty')))
    with pytest.raises(FileNotFoundError, match='nothere'):
        build(data_prefix=dict(img=str(tmp_path / 'nothere')))
