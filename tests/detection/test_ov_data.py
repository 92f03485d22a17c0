"""OV datasets (split checks, dropped novel instances, skipped images) and the prepare tools."""
import json
import os.path as osp

import pytest

from refclip_mm.datasets.ov_detection import (OV_COCO_BASE_CLASSES, OV_COCO_CLASSES,
                                              OV_COCO_NOVEL_CLASSES, OVCocoDataset, OVLVISV1Dataset)
from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES, THING_CLASSES
from .conftest import REPO, lvis_from_coco

BASE = tuple(c for c in THING_CLASSES if c not in NOVEL_THING_CLASSES)


def coco_dataset(root, **kwargs):
    args = dict(data_root=root, ann_file='annotations/instances_train.json',
                data_prefix=dict(img='images/train/'), pipeline=[],
                metainfo=dict(classes=THING_CLASSES, base_classes=BASE,
                              novel_classes=NOVEL_THING_CLASSES))
    args.update(kwargs)
    return OVCocoDataset(**args)


def all_labels(dataset):
    return [inst['bbox_label'] for k in range(len(dataset))
            for inst in dataset.get_data_info(k)['instances']]


def test_ov_coco_split_is_the_standard_one():
    assert len(OV_COCO_BASE_CLASSES) == 48 and len(OV_COCO_NOVEL_CLASSES) == 17
    assert len(OV_COCO_CLASSES) == 65 and not set(OV_COCO_BASE_CLASSES) & set(OV_COCO_NOVEL_CLASSES)


def test_drop_novel_and_count_skipped_images(synthetic_root):
    full = coco_dataset(synthetic_root, filter_cfg=dict(filter_empty_gt=True))
    dropped = coco_dataset(synthetic_root, drop_novel=True, filter_cfg=dict(filter_empty_gt=True))
    novel = {THING_CLASSES.index(n) for n in NOVEL_THING_CLASSES}
    labels, full_labels = all_labels(dropped), all_labels(full)
    assert set(full_labels) & novel and not set(labels) & novel
    assert len(labels) == sum(lab not in novel for lab in full_labels)
    with open(osp.join(synthetic_root, 'annotations', 'instances_train.json')) as f:
        ann = json.load(f)
    nov_ids = {c['id'] for c in ann['categories'] if c['split'] == 'novel'}
    only_novel = [i['id'] for i in ann['images']
                  if {a['category_id'] for a in ann['annotations'] if a['image_id'] == i['id']}
                  <= nov_ids]
    assert dropped.num_skipped_images == len(only_novel)
    assert len(dropped) == len(ann['images']) - len(only_novel)
    assert dropped.metainfo['novel_classes'] == NOVEL_THING_CLASSES


def test_split_disagreeing_with_the_file_or_not_covering_is_refused(synthetic_root):
    with pytest.raises(ValueError, match="split field marks novel"):
        coco_dataset(synthetic_root, metainfo=dict(classes=THING_CLASSES,
                                                   base_classes=THING_CLASSES[1:],
                                                   novel_classes=THING_CLASSES[:1]))
    with pytest.raises(ValueError, match='neither base nor novel'):
        coco_dataset(synthetic_root, metainfo=dict(classes=THING_CLASSES, base_classes=BASE[1:],
                                                   novel_classes=NOVEL_THING_CLASSES))
    swapped = (THING_CLASSES[1], THING_CLASSES[0]) + THING_CLASSES[2:]
    with pytest.raises(ValueError, match='order differs'):
        coco_dataset(synthetic_root, metainfo=dict(classes=swapped, base_classes=BASE,
                                                   novel_classes=NOVEL_THING_CLASSES))


def test_lvis_novel_classes_are_the_rare_ones(synthetic_root, tmp_path):
    path = str(tmp_path / 'lvis.json')
    lvis_from_coco(osp.join(synthetic_root, 'annotations', 'instances_train.json'), path)
    dataset = OVLVISV1Dataset(data_root='', ann_file=path, data_prefix=dict(img=''), pipeline=[],
                              metainfo=dict(classes=THING_CLASSES), drop_novel=True)
    assert sorted(dataset.metainfo['novel_classes']) == sorted(NOVEL_THING_CLASSES)
    assert len(dataset.metainfo['base_classes']) == 15


def test_prepare_ov_coco(tmp_path, run_python):
    from mmdet.datasets import CocoDataset
    names = CocoDataset.METAINFO['classes']
    cats = [dict(id=i + 1, name=n, supercategory='x') for i, n in enumerate(names)]
    anns = [dict(id=k + 1, image_id=1 + k % 2, category_id=k + 1, bbox=[0, 0, 5, 5], area=25,
                 iscrowd=0) for k in range(80)]
    images = [dict(id=i, file_name=f'{i}.jpg', width=10, height=10) for i in (1, 2)]
    src = str(tmp_path / 'instances.json')
    with open(src, 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=cats), f)
    proc = run_python([osp.join(REPO, 'tools', 'prepare_ov_coco.py'), '--train', src, '--val',
                       src, '--out-dir', str(tmp_path / 'out')], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert '48 base, 0 novel' in proc.stdout and '48 base, 17 novel' in proc.stdout
    with open(tmp_path / 'out' / 'instances_train2017_ov_base.json') as f:
        train = json.load(f)
    assert [c['name'] for c in train['categories']] == list(OV_COCO_CLASSES)
    assert len(train['annotations']) == 48 and len(train['images']) == 2


def test_prepare_ov_lvis(synthetic_root, tmp_path, run_python):
    src = str(tmp_path / 'lvis_train.json')
    data = lvis_from_coco(osp.join(synthetic_root, 'annotations', 'instances_train.json'), src)
    proc = run_python([osp.join(REPO, 'tools', 'prepare_ov_lvis.py'), '--train', src,
                       '--out-dir', str(tmp_path / 'out')], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert '5 rare (novel)' in proc.stdout
    with open(tmp_path / 'out' / 'lvis_v1_ov_novel_classes.json') as f:
        assert sorted(json.load(f)) == sorted(NOVEL_THING_CLASSES)
    with open(tmp_path / 'out' / 'lvis_v1_train_ov_base.json') as f:
        out = json.load(f)
    rare = {c['id'] for c in data['categories'] if c['frequency'] == 'r'}
    assert not any(a['category_id'] in rare for a in out['annotations'])
    assert len(out['annotations']) == sum(a['category_id'] not in rare for a in data['annotations'])


def _without_novel_categories(src: str, dst: str, novel) -> dict:
    with open(src) as f:
        data = json.load(f)
    gone = {c['id'] for c in data['categories'] if c['name'] in set(novel)}
    data['categories'] = [c for c in data['categories'] if c['id'] not in gone]
    data['annotations'] = [a for a in data['annotations'] if a['category_id'] not in gone]
    with open(dst, 'w') as f:
        json.dump(data, f)
    return data


def test_a_base_only_training_file_is_accepted_and_its_labels_mapped(synthetic_root, tmp_path):
    src = osp.join(synthetic_root, 'annotations', 'instances_train.json')
    base_only = str(tmp_path / 'base_only.json')
    _without_novel_categories(src, base_only, NOVEL_THING_CLASSES)
    full = coco_dataset(synthetic_root, drop_novel=True)
    mine = coco_dataset(synthetic_root, ann_file=base_only, drop_novel=True)
    assert mine.metainfo['classes'] == THING_CLASSES  # labels still index all 20 classes
    assert all_labels(mine) == all_labels(full) and max(all_labels(mine)) >= 15
    with pytest.raises(ValueError, match=r'lack 5 of the 20.*prepare_ov_coco\.py --train'):
        coco_dataset(synthetic_root, ann_file=base_only, test_mode=True)
    no_base = str(tmp_path / 'no_base.json')
    _without_novel_categories(src, no_base, BASE[:2])
    with pytest.raises(ValueError, match='base classes'):
        coco_dataset(synthetic_root, ann_file=no_base, drop_novel=True)


def test_prepare_ov_coco_takes_a_48_category_base_only_train_file(tmp_path, run_python):
    from mmdet.datasets import CocoDataset
    names = CocoDataset.METAINFO['classes']
    cats = [dict(id=i + 1, name=n) for i, n in enumerate(names) if n in OV_COCO_BASE_CLASSES]
    anns = [dict(id=k + 1, image_id=1, category_id=c['id'], bbox=[0, 0, 5, 5], area=25,
                 iscrowd=0) for k, c in enumerate(cats)]
    src = str(tmp_path / 'base48.json')
    with open(src, 'w') as f:
        json.dump(dict(images=[dict(id=1, file_name='1.jpg', width=10, height=10)],
                       annotations=anns, categories=cats), f)
    tool = osp.join(REPO, 'tools', 'prepare_ov_coco.py')
    proc = run_python([tool, '--train', src, '--out-dir', str(tmp_path / 'out')], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert '48 categories, 48 annotations (48 base, 0 novel)' in proc.stdout
    proc = run_python([tool, '--val', src, '--out-dir', str(tmp_path / 'out')], cwd=str(tmp_path))
    assert proc.returncode != 0 and "needs all 65" in proc.stderr


def test_prepare_ov_lvis_novel_list_from_the_val_file_alone(synthetic_root, tmp_path, run_python):
    src = str(tmp_path / 'lvis_val.json')
    lvis_from_coco(osp.join(synthetic_root, 'annotations', 'instances_train.json'), src)
    proc = run_python([osp.join(REPO, 'tools', 'prepare_ov_lvis.py'), '--val', src,
                       '--out-dir', str(tmp_path / 'out')], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / 'out' / 'lvis_v1_ov_novel_classes.json') as f:
        assert sorted(json.load(f)) == sorted(NOVEL_THING_CLASSES)
    assert not (tmp_path / 'out' / 'lvis_v1_train_ov_base.json').exists()
