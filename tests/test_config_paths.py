"""Every full-size leaf config takes its paths from one block at its top, and only from there.

Each leaf config has a block between ``# ---- paths to edit`` and the next ``# ----`` line.
Editing the values there must change every place the config uses them: the test rewrites the
block with new values and checks that the resolved config (model, dataloaders, evaluators,
hooks) uses the new values and no longer contains the old ones anywhere. For one config per
stage the datasets are then built on generated files at the edited paths.
"""
import glob
import json
import os.path as osp
import re
import shutil

import numpy as np
import pytest
from mmengine.config import Config

import refclip_mm  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
LEAVES = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '*', '*.py'))
                if osp.basename(osp.dirname(p)) in ('refiner', 'rla', 'fvit', 'catseg')
                and 'tiny' not in osp.basename(p))
BLOCK_START = '# ---- paths to edit'
ASSIGNMENT = re.compile(r"^(\w+) = '([^']*)'")
# where each path variable must arrive (dotted keys; '*' = every list element)
CONSUMERS = {
    'clip_pretrained': ['model.pretrained', 'model.backbone.pretrained'],
    'data_root': ['train_dataloader.dataset.data_root', 'val_dataloader.dataset.data_root',
                  'test_dataloader.dataset.data_root'],
    'proposal_file': ['train_dataloader.dataset.proposal_file'],
    'refiner_file': ['custom_hooks.*.refiner'],
    'concepts': ['model.concepts'],
    'class_embeddings': ['model.roi_head.bbox_head.class_embeddings',
                         'model.decode_head.class_embeddings'],
    'test_class_embeddings': ['model.decode_head.test_class_embeddings'],
}


def path_block(path: str) -> dict:
    """``{name: value}`` of the paths block at the top of a leaf config."""
    with open(path) as f:
        lines = f.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(BLOCK_START)), None)
    assert start is not None, f'{path} has no "{BLOCK_START}" block'
    block = {}
    for line in lines[start + 1:]:
        if line.startswith('# ----'):
            return block
        match = ASSIGNMENT.match(line)
        assert match, f'{path}: unexpected line in the paths block: {line!r}'
        block[match.group(1)] = match.group(2)
    raise AssertionError(f'{path}: the paths block is not closed')


def lookup(cfg, dotted: str) -> list:
    """Values at a dotted key ('*' expands lists); missing keys give nothing."""
    values = [cfg]
    for part in dotted.split('.'):
        nxt = []
        for value in values:
            if part == '*' and isinstance(value, (list, tuple)):
                nxt.extend(value)
            elif hasattr(value, 'get') and value.get(part, None) is not None:
                nxt.append(value.get(part))
        values = nxt
    return values


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


@pytest.fixture(scope='module')
def configs_copy(tmp_path_factory):
    """A copy of configs/ that the tests may edit."""
    root = tmp_path_factory.mktemp('configs_copy')
    shutil.copytree(osp.join(REPO, 'configs'), str(root / 'configs'))
    return str(root / 'configs')


def edited_config(configs_copy: str, path: str, values: dict) -> Config:
    """Load the copy of ``path`` with its paths block set to ``values``."""
    copy_path = osp.join(configs_copy, osp.relpath(path, osp.join(REPO, 'configs')))
    with open(path) as f:
        text = f.read()
    for name, value in values.items():
        text, count = re.subn(rf"^{name} = '[^']*'", f"{name} = '{value}'", text, flags=re.M)
        assert count == 1, (path, name)
    with open(copy_path, 'w') as f:
        f.write(text)
    try:
        return Config.fromfile(copy_path)
    finally:
        shutil.copy(path, copy_path)


def test_there_are_leaf_configs():
    assert len(LEAVES) > 60


@pytest.mark.parametrize('path', LEAVES, ids=lambda p: osp.relpath(p, REPO))
def test_edited_paths_reach_every_use_and_replace_the_defaults(path, configs_copy):
    block = path_block(path)
    assert 'data_root' in block
    unknown = set(block) - set(CONSUMERS)
    assert not unknown, f'paths block names variables this test does not know: {unknown}'
    if '_test-' not in osp.basename(path):  # Cat-Seg test configs read the tower from --checkpoint
        assert 'clip_pretrained' in block
    new = {name: f'/edited/{name}/' for name in block}
    cfg = edited_config(configs_copy, path, new)
    for name, value in new.items():
        found = [v for key in CONSUMERS[name] for v in lookup(cfg, key)]
        assert found and all(str(v).startswith(value) for v in found), (name, found)
    every = list(strings(cfg.to_dict()))
    for name, old in block.items():
        stale = [s for s in every if old and s.startswith(old)]
        assert not stale, f'{name}: the old value {old!r} is still used: {stale[:3]}'
    for evaluator in ('val_evaluator', 'test_evaluator'):
        for ann in lookup(cfg, f'{evaluator}.ann_file'):
            assert ann.startswith(new['data_root']), (evaluator, ann)


def _images(folder: str, names) -> None:
    import cv2
    for name in names:
        cv2.imwrite(osp.join(folder, name), np.full((24, 32, 3), 128, np.uint8))


def _coco_file(path: str, names, categories=()) -> None:
    images = [dict(id=i + 1, file_name=n, width=32, height=24) for i, n in enumerate(names)]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=[], categories=list(categories)), f)


@pytest.mark.parametrize('name', ['refiner/refiner_vit-b16-openai_8xb2-2e_coco-448.py',
                                  'rla/clipself-proposals-rsc_vit-b16-openai_8xb2-6e_coco-1024.py'])
def test_stage_datasets_are_built_from_the_edited_paths(name, configs_copy, tmp_path):
    from mmengine.registry import DefaultScope

    from refclip_mm.registry import DATASETS
    root = tmp_path / 'my_coco'
    (root / 'train2017').mkdir(parents=True)
    (root / 'annotations').mkdir()
    (root / 'props').mkdir()
    names = ['a.png', 'b.png']
    _images(str(root / 'train2017'), names)
    _coco_file(str(root / 'annotations' / 'instances_train2017.json'), names)
    with open(root / 'props' / 'mine.json', 'w') as f:
        json.dump({n: [[0, 0, 16, 12, 0.9]] for n in names}, f)
    path = osp.join(REPO, 'configs', name)
    values = dict(data_root=str(root) + '/')
    if 'proposal_file' in path_block(path):
        values['proposal_file'] = 'props/mine.json'
    cfg = edited_config(configs_copy, path, values)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 2
    info = dataset.get_data_info(0)
    assert info['img_path'].startswith(str(root))
    if 'proposal_file' in values:
        assert info['proposals'] == [[0, 0, 16, 12, 0.9]]
        assert dataset[0]['data_samples'].boxes.shape == (1, 4)
