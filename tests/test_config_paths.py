"""Every path of a full-size config is set once, in one paths block, and reaches every use.

A paths block is the lines between ``# ---- paths to edit`` and the next ``# ----`` line, one
``name = 'value'`` per line. A leaf config is made of files (itself and its ``_base_`` files,
recursively); its paths are the blocks of those files, each name owned by the file nearest to
the leaf that sets it: a dataset's ``data_root`` by the file that defines the dataset
(``configs/_base_/datasets/``, ``_base_/fvit/``, ``_base_/catseg/``), the tower's and the
run's files by the leaf, and a variant (another tower, SC-RLA / R-SC-RLA, a Cat-Seg L/14
config) sets only the paths it changes. The tests rewrite every block of a leaf's files with
new values and check that the resolved config (model, dataloaders, evaluators, hooks) uses, at
each place a path goes, the value of the block that owns it, and no old value anywhere. For one
config per stage the datasets are then built on generated files at the edited paths.
"""
import ast
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
CONFIGS = osp.join(REPO, 'configs')
LEAVES = sorted(p for p in glob.glob(osp.join(CONFIGS, '*', '*.py'))
                if osp.basename(osp.dirname(p)) in ('refiner', 'rla', 'fvit', 'catseg')
                and 'tiny' not in osp.basename(p))
EVERY_CONFIG = sorted(glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True))
BLOCK_START = '# ---- paths to edit'
ASSIGNMENT = re.compile(r"^(\w+) = '([^']*)'")
# where each path variable must arrive (dotted keys; '*' = every list element)
CONSUMERS = {
    'clip_pretrained': ['model.pretrained', 'model.backbone.pretrained'],
    'data_root': ['train_dataloader.dataset.data_root', 'val_dataloader.dataset.data_root',
                  'test_dataloader.dataset.data_root'],
    'proposal_file': ['train_dataloader.dataset.proposal_file'],
    'refiner_file': ['custom_hooks.*.refiner_file'],
    'concepts': ['model.concepts'],
    'class_embeddings': ['model.roi_head.bbox_head.class_embeddings',
                         'model.decode_head.class_embeddings'],
    'test_class_embeddings': ['model.decode_head.test_class_embeddings'],
}


def rel(path: str) -> str:
    return osp.relpath(path, CONFIGS)


def path_block(path: str) -> dict:
    """``{name: value}`` of a config file's paths block; ``{}`` when it has none."""
    with open(path) as f:
        lines = f.read().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(BLOCK_START)]
    if not starts:
        return {}
    assert len(starts) == 1, f'{path} has {len(starts)} paths blocks'
    block = {}
    for line in lines[starts[0] + 1:]:
        if line.startswith('# ----'):
            return block
        match = ASSIGNMENT.match(line)
        assert match, f'{path}: unexpected line in the paths block: {line!r}'
        assert match.group(1) not in block, f'{path}: {match.group(1)} set twice'
        block[match.group(1)] = match.group(2)
    raise AssertionError(f'{path}: the paths block is not closed')


def bases(path: str) -> list:
    """The files a config names in ``_base_``."""
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '_base_'
                                                for t in node.targets):
            names = ast.literal_eval(node.value)
            names = [names] if isinstance(names, str) else names
            return [osp.normpath(osp.join(osp.dirname(path), name)) for name in names]
    return []


def made_of(path: str) -> list:
    """The config and every file it inherits from."""
    files = [path]
    for base in bases(path):
        files += [f for f in made_of(base) if f not in files]
    return files


def owners(path: str) -> dict:
    """``{name: file}``: for each path a config is given, the file whose block sets it (the
    config's own block, else the owner in the base that provides the name)."""
    found = {}
    for base in bases(path):
        found.update(owners(base))
    found.update({name: path for name in path_block(path)})
    return found


def lookup(cfg, dotted: str) -> list:
    """Values at a dotted key ('*' expands lists); missing keys and ``None`` give nothing."""
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
    shutil.copytree(CONFIGS, str(root / 'configs'))
    return str(root / 'configs')


def edited_config(configs_copy: str, path: str, values: dict) -> Config:
    """Load the copy of ``path`` with the blocks of its files set to ``values``
    (``{(file, name): value}``); the copy is restored afterwards."""
    edited = sorted({file for file, _ in values})
    try:
        for file in edited:
            with open(file) as f:
                text = f.read()
            for (owner, name), value in values.items():
                if owner == file:
                    text, count = re.subn(rf"^{name} = '[^']*'", f"{name} = '{value}'", text,
                                          flags=re.M)
                    assert count == 1, (file, name)
            with open(osp.join(configs_copy, rel(file)), 'w') as f:
                f.write(text)
        return Config.fromfile(osp.join(configs_copy, rel(path)))
    finally:
        for file in edited:
            shutil.copy(file, osp.join(configs_copy, rel(file)))


def test_there_are_leaf_configs():
    assert len(LEAVES) > 60


def test_the_owners_follow_the_files_a_config_is_made_of(tmp_path):
    """The helpers above, on a made-up family: a dataset base, a leaf and its variant."""
    (tmp_path / 'base').mkdir()
    (tmp_path / 'base' / 'data.py').write_text(
        "# ---- paths to edit\ndata_root = 'd/'\n# ----\nx = 1\n")
    (tmp_path / 'leaf.py').write_text(
        "_base_ = ['./base/data.py']\n# ---- paths to edit\nclip_pretrained = 'a.pt'\n# ----\n")
    (tmp_path / 'variant.py').write_text(
        "_base_ = './leaf.py'\n# no paths of its own\ny = 2\n")
    leaf, variant = str(tmp_path / 'leaf.py'), str(tmp_path / 'variant.py')
    data = str(tmp_path / 'base' / 'data.py')
    assert made_of(variant) == [variant, leaf, data]
    assert owners(variant) == dict(data_root=data, clip_pretrained=leaf)
    assert path_block(variant) == {}


@pytest.mark.parametrize('path', LEAVES, ids=lambda p: rel(p))
def test_each_path_is_set_once_and_reaches_every_use(path, configs_copy):
    files = made_of(path)
    own = owners(path)
    assert 'data_root' in own, 'the dataset of a full-size config sets data_root in a block'
    if '_test-' not in osp.basename(path):  # Cat-Seg test configs read the tower from --checkpoint
        assert 'clip_pretrained' in own
    unknown = {name for f in files for name in path_block(f)} - set(CONSUMERS)
    assert not unknown, f'paths blocks name variables this test does not know: {unknown}'

    # a config states only the paths it changes: none of its block's values is inherited as is
    inherited = {}
    for base in bases(path):
        inherited.update({name: path_block(owner)[name] for name, owner in owners(base).items()})
    restated = {name: value for name, value in path_block(path).items()
                if inherited.get(name) == value}
    assert not restated, f'restates the paths its bases set: {restated}'

    # edit every block of every file the config is made of
    new = {(f, name): f'/edited/{rel(f)[:-3]}/{name}/' for f in files for name in path_block(f)}
    old = {value for f in files for value in path_block(f).values() if value}
    cfg = edited_config(configs_copy, path, new)
    for name in CONSUMERS:
        found = [v for key in CONSUMERS[name] for v in lookup(cfg, key)]
        if name not in own:
            assert not found, f'{name} is used ({found}) but no paths block sets it'
            continue
        value = new[(own[name], name)]
        assert found and all(str(v).startswith(value) for v in found), (name, rel(own[name]), found)
    every = list(strings(cfg.to_dict()))
    stale = [s for s in every if any(s.startswith(value) for value in old)]
    assert not stale, f'old values are still used: {stale[:3]}'
    overridden = [v for (f, name), v in new.items() if own[name] != f]
    leaked = [s for s in every if any(s.startswith(v) for v in overridden)]
    assert not leaked, f'values of blocks the config overrides are still used: {leaked[:3]}'
    root = new[(own['data_root'], 'data_root')]
    for evaluator in ('val_evaluator', 'test_evaluator'):
        for ann in lookup(cfg, f'{evaluator}.ann_file'):
            assert ann.startswith(root), (evaluator, ann)


def code(path: str) -> str:
    """A config file's text without its comments."""
    with open(path) as f:
        return re.sub(r'#.*', '', f.read())


@pytest.mark.parametrize('path', LEAVES, ids=lambda p: rel(p))
def test_a_leaf_that_keeps_its_datasets_data_root_does_not_rewire_it(path):
    """``data_root`` is set where the dataset is defined; a leaf names it only to change it
    (in its paths block, with a value of its own)."""
    if 'data_root' not in path_block(path):
        assert 'data_root' not in code(path)


def test_no_config_points_into_work_dirs():
    """Run outputs are no config's inputs: paths that a pipeline makes (ToyWorld) come through
    cfg-options."""
    assert not [rel(p) for p in EVERY_CONFIG if 'work_dirs' in code(p)]


def test_every_scd_hook_comes_from_the_scd_hook_base():
    spelled_out = [rel(p) for p in EVERY_CONFIG
                   if p != osp.join(CONFIGS, '_base_', 'scd_hook.py')
                   and 'SCDDistillHook' in code(p)]
    assert not spelled_out


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
    path = osp.join(CONFIGS, name)
    own = owners(path)
    values = {(own['data_root'], 'data_root'): str(root) + '/'}
    if 'proposal_file' in own:
        values[(own['proposal_file'], 'proposal_file')] = 'props/mine.json'
    cfg = edited_config(configs_copy, path, values)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 2
    info = dataset.get_data_info(0)
    assert info['img_path'].startswith(str(root))
    if 'proposal_file' in own:
        assert info['proposals'] == [[0, 0, 16, 12, 0.9]]
        assert dataset[0]['data_samples'].boxes.shape == (1, 4)
