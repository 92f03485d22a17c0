"""ADE20K-847 / PC-459: 16-bit label maps load unchanged, 65535 is ignored by IoUMetric,
bad labels are named; the preparation tools convert small generated releases."""
import importlib.util
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample

from refclip_mm.datasets.ov_segmentation import (ADE20K847Dataset, LoadCheckedSegMap,
                                                 PascalContext459Dataset)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
IGNORE = 65535


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'tools', name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_16bit_set(root, img_dir, ann_dir, num_classes, classes_file, n=3, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, img_dir)), os.makedirs(osp.join(root, ann_dir))
    maps = {}
    for i in range(n):
        labels = rng.integers(0, num_classes, (20, 24)).astype(np.uint16)
        labels[0, :] = IGNORE
        labels[5, 5] = num_classes - 1
        cv2.imwrite(osp.join(root, img_dir, f'im{i}.jpg'), rng.integers(0, 255, (20, 24, 3), np.uint8))
        cv2.imwrite(osp.join(root, ann_dir, f'im{i}.png'), labels)
        maps[f'im{i}'] = labels
    with open(osp.join(root, classes_file), 'w') as f:
        f.writelines(f'class {k}\n' for k in range(num_classes))
    return maps


PIPELINE = [dict(type='LoadImageFromFile'), None, dict(type='PackSegInputs')]


@pytest.fixture(autouse=True)
def mmseg_scope():
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


@pytest.mark.parametrize('cls,num,img_dir,ann_dir,classes_file', [
    (ADE20K847Dataset, 847, 'images_847/validation', 'annotations_847/validation', 'classes_847.txt'),
    (PascalContext459Dataset, 459, 'JPEGImages', 'annotations_459/val', 'classes_459.txt'),
])
def test_16bit_datasets_load_and_ignore_65535(tmp_path, cls, num, img_dir, ann_dir, classes_file):
    maps = write_16bit_set(str(tmp_path), img_dir, ann_dir, num, classes_file)
    pipeline = list(PIPELINE)
    pipeline[1] = dict(type='LoadCheckedSegMap', num_classes=num, ignore_index=IGNORE)
    dataset = cls(data_root=str(tmp_path), data_prefix=dict(img_path=img_dir, seg_map_path=ann_dir),
                  pipeline=pipeline)
    assert len(dataset.metainfo['classes']) == num and len(dataset) == 3
    metric = IoUMetric(ignore_index=IGNORE)
    metric.dataset_meta = dataset.metainfo
    for index in range(3):
        item = dataset[index]
        gt = item['data_samples'].gt_sem_seg.data[0]
        name = osp.splitext(osp.basename(item['data_samples'].seg_map_path))[0]
        assert torch.equal(gt, torch.from_numpy(maps[name].astype(np.int64)))
        assert gt.max() == IGNORE and gt[5, 5] == num - 1 and (gt[gt != IGNORE] > 255).any()
        pred = gt.clone()
        pred[gt == IGNORE] = 7  # wrong only where ignored
        sample = SegDataSample(gt_sem_seg=PixelData(data=gt[None]),
                               pred_sem_seg=PixelData(data=pred[None]))
        metric.process({}, [sample.to_dict()])
    results = metric.compute_metrics(metric.results)
    assert results['aAcc'] == 100.0 and results['mIoU'] == 100.0


def test_labels_outside_the_class_range_are_named(tmp_path):
    labels = np.zeros((4, 4), np.uint16)
    labels[1, 2] = 900
    path = str(tmp_path / 'bad.png')
    cv2.imwrite(path, labels)
    with pytest.raises(ValueError, match=r"bad\.png.*\[900\].*0\.\.846"):
        LoadCheckedSegMap(num_classes=847, ignore_index=IGNORE)(dict(seg_map_path=path))
    ok = LoadCheckedSegMap(num_classes=901, ignore_index=IGNORE)(dict(seg_map_path=path))
    assert ok['gt_seg_map'].dtype == np.uint16 and ok['gt_seg_map'][1, 2] == 900


def test_8bit_loader_applies_reduce_zero_label_and_label_map(tmp_path):
    path = str(tmp_path / 'a.png')
    cv2.imwrite(path, np.array([[0, 1, 2], [3, 255, 1]], np.uint8))
    out = LoadCheckedSegMap(num_classes=3)(dict(seg_map_path=path, reduce_zero_label=True))
    assert out['gt_seg_map'].tolist() == [[255, 0, 1], [2, 255, 0]]
    out = LoadCheckedSegMap(num_classes=2)(dict(seg_map_path=path, label_map={0: 255, 1: 0, 2: 1, 3: 255}))
    assert out['gt_seg_map'].tolist() == [[255, 0, 1], [255, 255, 0]]
    with pytest.raises(ValueError, match=r"a\.png.*\[3\]"):
        LoadCheckedSegMap(num_classes=3)(dict(seg_map_path=path))


def test_missing_class_file_names_the_tool(tmp_path):
    with pytest.raises(FileNotFoundError, match='prepare_ade20k_847'):
        ADE20K847Dataset(data_root=str(tmp_path), data_prefix=dict(img_path='i', seg_map_path='a'))


def _ade_mask(class_ids):
    """An ADE *_seg.png (BGR for cv2) encoding class ids as R / 10 * 256 + G."""
    seg = np.zeros(class_ids.shape + (3, ), np.uint8)
    seg[..., 2] = (class_ids // 256) * 10   # R
    seg[..., 1] = class_ids % 256           # G
    return seg


def test_prepare_ade20k_847_converts_a_generated_release(tmp_path, capsys):
    root = tmp_path / 'ADE20K_2021_17_01'
    names = [f'object {k}' for k in range(1, 301)]  # ADE ids 1..300
    files = [('training', 'ADE_train_00000001.jpg', [5, 299]),
             ('validation', 'ADE_val_00000001.jpg', [5, 299, 17]),
             ('validation', 'ADE_val_00000002.jpg', [299])]
    presence = np.zeros((len(names), len(files)), np.int32)
    folders = []
    for j, (split, fname, ids) in enumerate(files):
        folder = f'ADE20K_2021_17_01/images/ADE/{split}/scene'
        os.makedirs(tmp_path / folder, exist_ok=True)
        class_ids = np.zeros((8, 12), np.int64)
        for k, cid in enumerate(ids):
            class_ids[:, 4 * k:4 * k + 4] = cid
            presence[cid - 1, j] = 1
        cv2.imwrite(str(tmp_path / folder / fname), np.full((8, 12, 3), 100, np.uint8))
        cv2.imwrite(str(tmp_path / folder / fname.replace('.jpg', '_seg.png')), _ade_mask(class_ids))
        folders.append(folder)
    with open(root / 'index_ade20k.pkl', 'wb') as f:
        pickle.dump(dict(filename=[f[1] for f in files], folder=folders, objectnames=names,
                         objectPresence=presence), f)
    counts = load_tool('prepare_ade20k_847').main(['--ade-root', str(root)])
    printed = capsys.readouterr().out
    assert counts == {'validation': 2}
    assert 'classes: 2' in printed and 'validation: 2 images' in printed and 'not 847' in printed
    # classes in both splits: ADE ids 5 and 299 -> labels 0 and 1; id 17 (val only) -> ignored
    assert open(root / 'classes_847.txt').read().split('\n')[:2] == ['object 5', 'object 299']
    labels = cv2.imread(str(root / 'annotations_847/validation/ADE_val_00000001.png'), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint16
    assert labels[0, :4].tolist() == [0] * 4 and labels[0, 4:8].tolist() == [1] * 4
    assert labels[0, 8:].tolist() == [IGNORE] * 4
    assert osp.isfile(root / 'images_847/validation/ADE_val_00000002.jpg')


def test_prepare_pascal_context_459_converts_mat_files(tmp_path, capsys):
    from scipy.io import savemat
    (tmp_path / 'trainval').mkdir()
    with open(tmp_path / 'labels.txt', 'w') as f:
        f.writelines(f'{k}: name{k}\n' for k in range(1, 460))
    label_map = np.array([[0, 1, 459], [300, 2, 0]], np.uint16)
    savemat(str(tmp_path / 'trainval' / '2008_000001.mat'), dict(LabelMap=label_map))
    savemat(str(tmp_path / 'trainval' / '2008_000002.mat'), dict(LabelMap=label_map + 1))
    (tmp_path / 'val.txt').write_text('2008_000001\n')
    out = tmp_path / 'VOC2010'
    n = load_tool('prepare_pascal_context_459').main([
        '--mat-dir', str(tmp_path / 'trainval'), '--labels', str(tmp_path / 'labels.txt'),
        '--split-file', str(tmp_path / 'val.txt'), '--out-root', str(out)])
    assert n == 1 and 'classes: 459' in capsys.readouterr().out
    labels = cv2.imread(str(out / 'annotations_459/val/2008_000001.png'), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint16 and labels.tolist() == [[IGNORE, 0, 458], [299, 1, IGNORE]]
    names = open(out / 'classes_459.txt').read().splitlines()
    assert len(names) == 459 and names[0] == 'name1'
    with pytest.raises(ValueError, match=r'2008_000002\.mat.*\[460\]'):
        load_tool('prepare_pascal_context_459').main([
            '--mat-dir', str(tmp_path / 'trainval'), '--labels', str(tmp_path / 'labels.txt'),
            '--out-root', str(tmp_path / 'o2')])
