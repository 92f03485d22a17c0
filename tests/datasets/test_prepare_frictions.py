"""OV-COCO / OV-LVIS preparation: the tools' defaults write where the configs read, trimmed LVIS
files are taken as they are, and a file lacking something stops with its name and what it lacks.

Everything runs in-process on generated files of a few images (no subprocess, no images read).
"""
import importlib.util
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from refclip_mm.datasets.ov_detection import (LVIS_V1_CLASSES, OV_COCO_CLASSES,
                                              OV_COCO_NOVEL_CLASSES, OVCocoDataset, OVLVISV1Dataset)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LVIS_CFG = osp.join(REPO, 'configs', '_base_', 'fvit', 'ov_lvis_instance.py')
COCO_CFG = osp.join(REPO, 'configs', '_base_', 'fvit', 'ov_coco_detection.py')
# a trimmed LVIS file: 12 LVIS v1 categories spread over the list, every 3rd one rare
TRIMMED = [LVIS_V1_CLASSES[k] for k in range(0, 1200, 100)]
FREQ = ['r' if k % 3 == 0 else ('c' if k % 3 == 1 else 'f') for k in range(len(TRIMMED))]
RARE = [n for n, f in zip(TRIMMED, FREQ) if f == 'r']


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lvis_data(names=TRIMMED, split='val2017', num_images=3) -> dict:
    """An LVIS v1 file of ``names`` (ids as in LVIS v1), one box per category spread over a
    few images, with every field the OV-LVIS path reads."""
    ids = {n: LVIS_V1_CLASSES.index(n) + 1 if n in LVIS_V1_CLASSES else 5000 + k
           for k, n in enumerate(names)}
    categories = [dict(id=ids[n], name=n, synonyms=[n], frequency=FREQ[k % len(FREQ)])
                  for k, n in enumerate(names)]
    images = [dict(id=i + 1, width=64, height=48, neg_category_ids=[],
                   not_exhaustive_category_ids=[],
                   coco_url=f'http://images.cocodataset.org/{split}/{i + 1:012d}.jpg')
              for i in range(num_images)]
    annotations = [dict(id=k + 1, image_id=1 + k % num_images, category_id=ids[n],
                        bbox=[4, 4, 20, 16], area=320.0,
                        segmentation=[[4, 4, 24, 4, 24, 20, 4, 20]])
                   for k, n in enumerate(names)]
    return dict(images=images, annotations=annotations, categories=categories)


def write(path, data) -> str:
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def built(dataset_cfg) -> dict:
    """A config's dataset arguments without its type and pipeline (no images here)."""
    return {k: v for k, v in dataset_cfg.items() if k not in ('type', 'pipeline')}


def lvis_dataset(path, **kwargs):
    return OVLVISV1Dataset(data_root='', ann_file=path, data_prefix=dict(img=''), pipeline=[],
                           **kwargs)


# ---- OV-LVIS dataset --------------------------------------------------------------------------

def test_a_trimmed_lvis_file_gives_its_categories_as_the_classes(tmp_path):
    path = write(tmp_path / 'trimmed.json', lvis_data())
    dataset = lvis_dataset(path, drop_novel=True)
    assert dataset.metainfo['classes'] == tuple(TRIMMED)
    assert list(dataset.metainfo['novel_classes']) == RARE
    assert len(dataset.metainfo['base_classes']) == len(TRIMMED) - len(RARE)
    labels = [inst['bbox_label'] for k in range(len(dataset))
              for inst in dataset.get_data_info(k)['instances']]
    rare_labels = {TRIMMED.index(n) for n in RARE}
    assert labels and not set(labels) & rare_labels and max(labels) < len(TRIMMED)
    evaluation = lvis_dataset(path, test_mode=True)
    assert sorted(inst['bbox_label'] for k in range(len(evaluation))
                  for inst in evaluation.get_data_info(k)['instances']) == list(range(len(TRIMMED)))
    # the image path is the coco_url's path under data_prefix.img
    assert evaluation.get_data_info(0)['img_path'].endswith('val2017/000000000001.jpg')
    full = lvis_dataset(write(tmp_path / 'full.json', lvis_data(LVIS_V1_CLASSES)))
    assert full.metainfo['classes'] == LVIS_V1_CLASSES and len(LVIS_V1_CLASSES) == 1203


def test_lvis_categories_without_frequency_name_the_file_and_the_use(tmp_path):
    data = lvis_data()
    for cat in data['categories'][:2]:
        del cat['frequency']
    path = write(tmp_path / 'nofreq.json', data)
    with pytest.raises(ValueError) as err:
        lvis_dataset(path)
    msg = str(err.value)
    assert path in msg and f'2 of its {len(TRIMMED)} categories lack "frequency"' in msg
    assert TRIMMED[0] in msg and 'rare' in msg and 'APr' in msg


def test_lvis_images_without_coco_url_name_the_file_and_the_use(tmp_path):
    data = lvis_data()
    del data['images'][0]['coco_url']  # the first image: mmdet's loader meets it at once
    path = write(tmp_path / 'nourl.json', data)
    with pytest.raises(ValueError) as err:
        lvis_dataset(path)
    msg = str(err.value)
    assert path in msg and '1 of 3 images lack an "id" or a "coco_url"' in msg
    assert 'data_prefix.img' in msg


def test_lvis_evaluation_file_without_the_metric_fields(tmp_path):
    data = lvis_data()
    del data['images'][1]['not_exhaustive_category_ids']
    path = write(tmp_path / 'val.json', data)
    lvis_dataset(path)  # training does not read it
    with pytest.raises(ValueError) as err:
        lvis_dataset(path, test_mode=True)
    msg = str(err.value)
    assert path in msg and '1 of its 3 images lack a "not_exhaustive_category_ids"' in msg
    assert "'id': 2" in msg and 'LVISMetric' in msg  # the image, not a placeholder
    data = lvis_data()
    del data['annotations'][0]['area']
    path = write(tmp_path / 'noarea.json', data)
    with pytest.raises(ValueError, match=r'noarea\.json: 1 of its 12 annotations lack an "area"'):
        lvis_dataset(path, test_mode=True)


def test_lvis_masks_need_segmentation(tmp_path):
    from mmdet.datasets.transforms import LoadAnnotations
    data = lvis_data()
    del data['annotations'][3]['segmentation']
    path = write(tmp_path / 'noseg.json', data)
    lvis_dataset(path)  # boxes only: fine
    with pytest.raises(ValueError) as err:
        OVLVISV1Dataset(data_root='', ann_file=path, data_prefix=dict(img=''),
                        pipeline=[LoadAnnotations(with_bbox=True, with_mask=True)])
    msg = str(err.value)
    assert path in msg and '1 of its 12 annotations lack a "segmentation"' in msg
    assert 'with_mask' in msg


def test_lvis_names_that_are_not_lvis_v1_or_out_of_id_order(tmp_path):
    names = list(TRIMMED)
    names[1] = names[1] + '_x'
    path = write(tmp_path / 'v05.json', lvis_data(names))
    with pytest.raises(ValueError) as err:
        lvis_dataset(path)
    msg = str(err.value)
    assert path in msg and f'1 of its {len(names)} categories are not LVIS v1 class names' in msg
    assert repr(TRIMMED[1]) in msg and 'metainfo=dict(classes=' in msg
    data = lvis_data()
    data['categories'] = data['categories'][::-1]
    path = write(tmp_path / 'reversed.json', data)
    with pytest.raises(ValueError, match=r'reversed\.json: its categories are not listed in id '
                                         'order'):
        lvis_dataset(path)
    # with classes of one's own, the names need not be LVIS ones
    dataset = lvis_dataset(write(tmp_path / 'own.json', lvis_data(names)),
                           metainfo=dict(classes=tuple(names)))
    assert dataset.metainfo['classes'] == tuple(names)


def test_lvis_file_without_images(tmp_path):
    data = lvis_data()
    data['images'], data['annotations'] = [], []
    path = write(tmp_path / 'empty.json', data)
    with pytest.raises(ValueError, match=r'empty\.json: its "images" list is empty'):
        lvis_dataset(path)


# ---- prepare_ov_lvis.py -----------------------------------------------------------------------

def test_prepare_ov_lvis_defaults_write_where_the_configs_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ann = osp.join('data', 'lvis_v1', 'annotations')
    write(osp.join(ann, 'lvis_v1_train.json'), lvis_data(split='train2017', num_images=4))
    write(osp.join(ann, 'lvis_v1_val.json'), lvis_data())
    tool = _tool('prepare_ov_lvis')
    tool.main([])
    out = capsys.readouterr().out
    assert 'is trimmed: it holds 12 of the 1,203 LVIS v1 categories' in out
    cfg = Config.fromfile(LVIS_CFG)
    train_cfg = cfg.train_dataloader.dataset
    train_file = osp.join(train_cfg.data_root, train_cfg.ann_file)
    with open(train_file) as f:
        written = json.load(f)
    rare_ids = {c['id'] for c in written['categories'] if c['frequency'] == 'r'}
    assert len(written['images']) == 4 and written['annotations']
    assert not any(a['category_id'] in rare_ids for a in written['annotations'])
    with open(cfg.ov_lvis_novel_classes) as f:
        assert json.load(f) == RARE
    # the config's datasets read them
    train = OVLVISV1Dataset(pipeline=[], **built(train_cfg))
    val_cfg = cfg.val_dataloader.dataset
    val = OVLVISV1Dataset(pipeline=[], **built(val_cfg))
    assert train.metainfo['classes'] == val.metainfo['classes'] == tuple(TRIMMED)
    assert list(train.metainfo['novel_classes']) == RARE
    assert osp.isfile(cfg.val_evaluator.ann_file)
    # the table's command: --train alone, no --out-dir
    os.remove(train_file)
    tool.main(['--train', osp.join(ann, 'lvis_v1_train.json')])
    assert osp.isfile(train_file)


def _exit_message(tool, argv) -> str:
    with pytest.raises(SystemExit) as err:
        tool.main(argv)
    return str(err.value.code)


def test_prepare_ov_lvis_errors_name_the_file_and_what_it_lacks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tool = _tool('prepare_ov_lvis')
    data = lvis_data()
    del data['categories'][0]['frequency']
    nofreq = write(tmp_path / 'nofreq.json', data)
    msg = _exit_message(tool, ['--train', nofreq])
    assert nofreq in msg and f'1 of its {len(TRIMMED)} categories lack "frequency"' in msg
    data = lvis_data()
    del data['images'][2]['coco_url']
    nourl = write(tmp_path / 'nourl.json', data)
    msg = _exit_message(tool, ['--train', nourl])
    assert nourl in msg and '"coco_url"' in msg and 'path under data_prefix.img' in msg
    data = lvis_data()
    del data['images'][0]['neg_category_ids']
    val = write(tmp_path / 'val.json', data)
    msg = _exit_message(tool, ['--val', val])
    assert val in msg and '"neg_category_ids"' in msg and 'LVISMetric' in msg
    train = write(tmp_path / 'train.json', lvis_data())
    other = write(tmp_path / 'other.json', lvis_data(TRIMMED[:-2]))
    msg = _exit_message(tool, ['--train', train, '--val', other])
    assert train in msg and other in msg and '2 only in train' in msg
    assert not osp.exists(osp.join('data', 'lvis_v1', 'annotations'))  # nothing written
    assert _exit_message(tool, ['--train', 'absent.json']) == '2'
    assert 'no such file: absent.json' in capsys.readouterr().err
    assert _exit_message(tool, []) == '2'
    assert osp.join('data', 'lvis_v1', 'annotations') in capsys.readouterr().err


# ---- prepare_ov_coco.py -----------------------------------------------------------------------

def coco_data(names=None, annotated=None) -> dict:
    """A COCO 2017 instances file of a few images: the 80 categories (or ``names``), one box per
    class of ``annotated`` (default: all)."""
    from mmdet.datasets import CocoDataset
    names = list(CocoDataset.METAINFO['classes'] if names is None else names)
    annotated = names if annotated is None else annotated
    cats = [dict(id=k + 1, name=n, supercategory='thing') for k, n in enumerate(names)]
    ids = {c['name']: c['id'] for c in cats}
    anns = [dict(id=k + 1, image_id=1 + k % 2, category_id=ids[n], bbox=[2, 2, 10, 10], area=100,
                 iscrowd=0) for k, n in enumerate(annotated)]
    images = [dict(id=i, file_name=f'{i:012d}.jpg', width=32, height=32) for i in (1, 2)]
    return dict(images=images, annotations=anns, categories=cats)


def test_prepare_ov_coco_defaults_write_where_the_configs_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ann = osp.join('data', 'coco', 'annotations')
    write(osp.join(ann, 'instances_train2017.json'), coco_data())
    tool = _tool('prepare_ov_coco')
    tool.main([])  # no val file yet: train only, with a note
    out = capsys.readouterr().out
    assert 'instances_val2017_ov_all.json not written' in out and '--val' in out
    write(osp.join(ann, 'instances_val2017.json'), coco_data())
    tool.main([])
    cfg = Config.fromfile(COCO_CFG)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        dataset_cfg = loader.dataset
        with open(osp.join(dataset_cfg.data_root, dataset_cfg.ann_file)) as f:
            assert [c['name'] for c in json.load(f)['categories']] == list(OV_COCO_CLASSES)
        dataset = OVCocoDataset(pipeline=[], **built(dataset_cfg))
        assert dataset.metainfo['classes'] == OV_COCO_CLASSES
    assert osp.isfile(cfg.val_evaluator.ann_file)


def test_prepare_ov_coco_val_file_lacking_classes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tool = _tool('prepare_ov_coco')
    gone = ['person', 'cat', 'dog']  # one base, two novel
    val = write(tmp_path / 'val_few.json', coco_data([n for n in OV_COCO_CLASSES if n not in gone]))
    msg = _exit_message(tool, ['--val', val])
    assert val in msg and 'lack 3 of the 65 OV-COCO classes (2 of them novel)' in msg
    assert str(gone) in msg and 'may have no annotations' in msg
    assert not osp.exists(osp.join('data', 'coco', 'annotations'))
    # all 65 categories, but the novel ones without annotations: written, with a warning
    base_only = [n for n in OV_COCO_CLASSES if n not in OV_COCO_NOVEL_CLASSES]
    val = write(tmp_path / 'val_base_annotated.json', coco_data(annotated=base_only))
    tool.main(['--val', val])
    out = capsys.readouterr().out
    assert '17 of the 65 classes have no annotations' in out and '(17 of them novel)' in out
    assert 'novel AP is then -1' in out
    assert osp.isfile(osp.join('data', 'coco', 'annotations', 'instances_val2017_ov_all.json'))
    # a structurally broken file names itself too
    data = coco_data()
    del data['images'][0]['file_name']
    broken = write(tmp_path / 'broken.json', data)
    msg = _exit_message(tool, ['--train', broken])
    assert broken in msg and '"file_name"' in msg
