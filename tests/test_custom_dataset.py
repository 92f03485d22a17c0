"""The custom-dataset recipe of docs/custom_datasets.md, followed end to end.

A user's own data is generated here: 64 px pictures of five kitchen things that are not COCO
categories ('teapot', 'kite string', 'mug', 'spatula', 'colander') on a 'tablecloth', as a
COCO-format detection set (category ids that are neither 1..N nor in name order), semantic
label maps and a box file. Each step is the recipe's: the class embeddings are built by
``tools/build_text_embeddings.py`` from the user's annotation file and class-name file, the
configs are the shipped examples in ``configs/custom/`` with their paths block edited and, for
a check run, the tiny config of the same model as ``_base_`` (a random tiny CLIP), and the runs
go through ``tools/train.py`` / ``tools/test.py`` (mmengine's Runner): the F-ViT is trained on
the base classes and tested with base / novel AP50, the Cat-Seg segmentor is trained and tested
with mmseg's ``IoUMetric``, stage 2 is trained on the image folder with the user's boxes, then
with the annotation file's ground-truth boxes. Broken user data stops with errors naming the
file and what it lacks.
"""
import importlib.util
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmdet.datasets import CocoDataset
from mmengine.config import Config
from PIL import Image

from refclip_mm.clip import TINY_OPENAI_ARCH, load_class_embeddings
from refclip_mm.registry import DATASETS, MODELS
from refclip_mm.utils.checkpoint import load_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')
# the shipped example of each model, and the tiny config of the same model (a check run)
RECIPES = {
    'fvit': ('custom/fvit-faster-rcnn_vit-b16-openai_8xb8-3e_custom-coco-640.py',
             'fvit/fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py'),
    'catseg': ('custom/catseg_vit-b16-openai_4xb1-80k_custom-384.py',
               'catseg/catseg_clip-tiny_1xb4-20i_synthetic-64.py'),
    'rla': ('custom/clipself-proposals_vit-b16-openai_8xb2-6e_custom-images-1024.py',
            'rla/clipself-patches_clip-tiny_1xb4-20i_synthetic-64.py'),
}
STUFF = 'tablecloth'
COLOURS = [(200, 60, 40), (40, 160, 220), (240, 200, 40), (120, 40, 160), (60, 180, 80)]
CATEGORY_IDS = [7, 3, 12, 40, 21]  # the file's ids, listed in this (non-sorted) order


def tool(name):
    """``main`` of ``tools/<name>.py``, the command a user runs (in this process)."""
    spec = importlib.util.spec_from_file_location(f'recipe_{name}', osp.join(REPO, 'tools',
                                                                             f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def options(**values):
    """``--cfg-options`` arguments."""
    return ['--cfg-options'] + [f'{k}={v}' for k, v in values.items()]


def example_classes(kind):
    """The class names the shipped example states (its ``classes`` line)."""
    with open(osp.join(CONFIGS, RECIPES[kind][0])) as f:
        return Config.fromstring(re.search(r'^classes = .*$', f.read(), re.M).group(0),
                                 '.py').classes


def user_config(kind, folder, **paths):
    """The user's config: the shipped example with its paths block edited and, for a check
    run, the tiny config of the same model as ``_base_``."""
    example, tiny = RECIPES[kind]
    with open(osp.join(CONFIGS, example)) as f:
        text = f.read()
    text, count = re.subn(r'^_base_ = .*$', f'_base_ = [{osp.join(CONFIGS, tiny)!r}]', text,
                          flags=re.M)
    assert count == 1
    for key, value in paths.items():
        text, count = re.subn(rf"^{key} = '[^']*'", f'{key} = {value!r}', text, flags=re.M)
        assert count == 1, f'{example}: no {key} in its paths block'
    path = osp.join(str(folder), osp.basename(example))
    with open(path, 'w') as f:
        f.write(text)
    return path


def draw_split(root, split, count, things, rng, first_id):
    """Pictures of ``things`` on a tablecloth: COCO instances, label maps, boxes per image."""
    images, annotations, boxes = [], [], {}
    for index in range(count):
        image_id = first_id + index
        picture = np.clip(rng.normal((225, 215, 190), 10, (64, 64, 3)), 0, 255).astype(np.uint8)
        labels = np.zeros((64, 64), np.uint8)  # 0: tablecloth
        name = f'{image_id:04d}.jpg'
        boxes[f'{split}/{name}'] = []
        # every thing in turn, so each split holds each class (the novel ones too)
        for k in {index % len(things), (index + 2) % len(things)}:
            w, h = (int(v) for v in rng.integers(16, 30, size=2))
            x, y = (int(v) for v in rng.integers(0, 64 - 30, size=2))
            picture[y:y + h, x:x + w] = COLOURS[k]
            labels[y:y + h, x:x + w] = k + 1
            annotations.append(dict(
                id=len(annotations) + 100 * image_id, image_id=image_id,
                category_id=CATEGORY_IDS[k], bbox=[x, y, w, h], area=w * h, iscrowd=0,
                segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]]))
            boxes[f'{split}/{name}'].append([x, y, x + w, y + h, 0.9])
        Image.fromarray(picture).save(osp.join(root, 'images', split, name), quality=95)
        Image.fromarray(labels).save(osp.join(root, 'labels', split, name[:-4] + '.png'))
        images.append(dict(id=image_id, file_name=name, width=64, height=64))
    categories = [dict(id=i, name=n, supercategory='kitchen') for i, n in zip(CATEGORY_IDS, things)]
    with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return boxes


@pytest.fixture(scope='module')
def user_data(tmp_path_factory, tiny_clip_file):
    """The user's data in the recipe's layout, their class-name file, a tiny CLIP file and its
    architecture file (for tools/build_text_embeddings.py --arch-json)."""
    root = str(tmp_path_factory.mktemp('my_data'))
    things = example_classes('fvit')
    assert not set(things) & set(CocoDataset.METAINFO['classes'])  # not COCO's categories
    for sub in ('images/train', 'images/val', 'labels/train', 'labels/val', 'annotations'):
        os.makedirs(osp.join(root, sub))
    rng = np.random.default_rng(0)
    boxes = draw_split(root, 'train', 8, things, rng, 1)
    boxes.update(draw_split(root, 'val', 3, things, rng, 101))
    with open(osp.join(root, 'boxes.json'), 'w') as f:
        json.dump(boxes, f)
    with open(osp.join(root, 'classes.txt'), 'w') as f:
        f.write('\n'.join((STUFF, ) + tuple(things)) + '\n')
    arch = osp.join(root, 'tiny_clip.json')
    with open(arch, 'w') as f:
        json.dump(TINY_OPENAI_ARCH, f)
    return dict(root=root + '/', things=things, boxes=boxes, clip=tiny_clip_file, arch=arch)


def build_embeddings(data, out, *source):
    """Step 2 of the recipe: the class-name embeddings of the user's names."""
    tool('build_text_embeddings')(list(source) + [
        '--arch-json', data['arch'], '--pretrained', data['clip'], '--templates', 'single',
        '--out', out])
    return load_class_embeddings(out)


def train_and_test(config, work_dir, iters, **cfg_options):
    """Steps 3 and 4: tools/train.py for a few iterations, tools/test.py on its checkpoint."""
    name = osp.splitext(osp.basename(config))[0]
    runner = tool('train')([config, '--work-dir', work_dir, '--max-iters', str(iters)]
                           + options(experiment_name=f'{name}_train', **cfg_options))
    checkpoint = osp.join(work_dir, f'iter_{iters}.pth')
    metrics = tool('test')([config, checkpoint, '--work-dir', work_dir]
                           + options(experiment_name=f'{name}_test', **cfg_options))
    return runner, metrics


def test_fvit_recipe_trains_on_the_base_classes_and_tests_base_and_novel(user_data, tmp_path):
    root, things = user_data['root'], user_data['things']
    emb_file = str(tmp_path / 'class_embeddings.pth')
    made = build_embeddings(user_data, emb_file, '--ann', root + 'annotations/train.json')
    assert sorted(made.names) == sorted(things)  # the file's categories (by id: another order)
    assert made.names != list(things)
    config = user_config('fvit', tmp_path, data_root=root, class_embeddings=emb_file)
    runner, metrics = train_and_test(config, str(tmp_path / 'work'), 2,
                                     **{'model.backbone.pretrained': user_data['clip'],
                                        'train_dataloader.batch_size': 2})
    dataset = runner.train_dataloader.dataset
    novel = ('kite string', 'colander')
    assert dataset.metainfo['classes'] == things and dataset.metainfo['novel_classes'] == novel
    head = runner.model.roi_head.bbox_head
    assert head.class_names == list(things) and head.novel_classes == list(novel)
    labels = {inst['bbox_label'] for k in range(len(dataset))
              for inst in dataset.get_data_info(k)['instances']}
    assert labels == {things.index(n) for n in things if n not in novel}  # novel ones dropped
    # mmdet's OVCocoMetric on the user's val file: both sets have ground truth, so both are
    # computed (a set without ground truth reads -1)
    assert 0.0 <= metrics['coco/base_ap50'] <= 1.0 and 0.0 <= metrics['coco/novel_ap50'] <= 1.0
    assert 0.0 <= metrics['coco/bbox_mAP_50'] <= 1.0


def test_catseg_recipe_trains_and_tests_with_the_iou_metric(user_data, tmp_path):
    root = user_data['root']
    emb_file = str(tmp_path / 'class_embeddings.pth')
    made = build_embeddings(user_data, emb_file, '--names', root + 'classes.txt')
    classes = example_classes('catseg')
    assert made.names == list(classes) == [STUFF] + list(user_data['things'])
    config = user_config('catseg', tmp_path, data_root=root, class_embeddings=emb_file)
    work_dir = str(tmp_path / 'work')
    runner, metrics = train_and_test(config, work_dir, 2,
                                     **{'model.backbone.pretrained': user_data['clip'],
                                        'train_dataloader.batch_size': 2})
    assert runner.train_dataloader.dataset.metainfo['classes'] == classes
    assert len(runner.val_dataloader.dataset) == 3
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'} and 0.0 <= metrics['mIoU'] <= 100.0
    assert metrics['aAcc'] > 0.0
    logs = [open(osp.join(d, f)).read() for d, _, files in os.walk(work_dir) for f in files
            if f.endswith('.log')]
    assert any('open-vocabulary train classes: 6 (tablecloth, teapot, kite string' in log
               for log in logs)


def rla_run(user_data, tmp_path, name, iters=2, **cfg_options):
    config = user_config('rla', tmp_path, data_root=user_data['root'],
                         proposal_file='boxes.json')
    work_dir = str(tmp_path / name)
    runner = tool('train')([config, '--work-dir', work_dir, '--max-iters', str(iters)] + options(
        experiment_name=f'custom_rla_{name}', **{'model.pretrained': user_data['clip'],
                                                 'train_dataloader.batch_size': 2}, **cfg_options))
    state = load_checkpoint_file(osp.join(work_dir, f'iter_{iters}.pth'))['state_dict']
    initial = load_checkpoint_file(user_data['clip'])
    moved = [k for k, v in state.items()
             if k.startswith('student.') and not torch.equal(v, initial[k[len('student.'):]])]
    return runner, moved


def test_stage2_recipe_on_the_image_folder_with_the_users_boxes(user_data, tmp_path):
    runner, moved = rla_run(user_data, tmp_path, 'proposals')
    assert moved  # the student trained
    dataset = runner.train_dataloader.dataset
    assert len(dataset) == len(user_data['boxes']) == 11  # every image under images/, recursively
    for index in (0, len(dataset) - 1):
        sample = dataset[index]['data_samples']
        key = '/'.join(sample.img_path.replace(os.sep, '/').split('/')[-2:])
        expected = torch.tensor(user_data['boxes'][key])[:, :4]  # 64 px: no resize
        assert torch.equal(sample.boxes, expected), key


def test_stage2_recipe_with_the_ground_truth_boxes_of_the_annotation_file(user_data, tmp_path):
    runner, moved = rla_run(user_data, tmp_path, 'ground_truth', **{
        'train_dataloader.dataset.ann_file': 'annotations/train.json',
        'train_dataloader.dataset.data_prefix.img': 'images/train/',
        'train_dataloader.dataset.proposal_file': None,
        'train_dataloader.dataset.boxes_from_annotations': True})
    assert moved
    dataset = runner.train_dataloader.dataset
    assert len(dataset) == 8
    with open(user_data['root'] + 'annotations/train.json') as f:
        data = json.load(f)
    first = data['images'][0]
    boxes = [[x, y, x + w, y + h] for x, y, w, h in
             (a['bbox'] for a in data['annotations'] if a['image_id'] == first['id'])]
    sample = dataset[0]['data_samples']
    assert sample.img_path.endswith(first['file_name'])
    assert torch.equal(sample.boxes, torch.tensor(boxes, dtype=torch.float32))


# ---- a user's data that is wrong: each error names the file and what it lacks ---------------

def dataset_cfg(kind, user_data, tmp_path, loader='train_dataloader', **paths):
    """The dataset of the user's config (no pipeline: only what building it checks)."""
    paths.setdefault('data_root', user_data['root'])
    cfg = Config.fromfile(user_config(kind, tmp_path, **paths))
    return dict(cfg[loader].dataset, pipeline=[])


def edited_json(user_data, tmp_path, split, edit):
    with open(user_data['root'] + f'annotations/{split}.json') as f:
        data = json.load(f)
    edit(data)
    path = str(tmp_path / f'{split}_edited.json')
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


def test_an_annotation_file_without_categories_is_named(user_data, tmp_path):
    path = edited_json(user_data, tmp_path, 'train', lambda d: d.pop('categories'))
    with pytest.raises(ValueError, match=r"train_edited\.json: no 'categories' list"):
        DATASETS.build(dict(dataset_cfg('fvit', user_data, tmp_path), ann_file=path))


def test_a_split_class_the_annotation_file_lacks_is_named(user_data, tmp_path):
    def rename(data):
        data['categories'][-1]['name'] = 'colanders'
    path = edited_json(user_data, tmp_path, 'val', rename)
    cfg = dataset_cfg('fvit', user_data, tmp_path, 'val_dataloader')
    with pytest.raises(ValueError, match=r"val_edited\.json: its categories lack 1 of the 5 "
                       r"metainfo classes, among them novel classes \['colander'\].*did you mean "
                       r"'colanders'"):
        DATASETS.build(dict(cfg, ann_file=path))
    metainfo = dict(cfg['metainfo'], novel_classes=('kite strng', 'colander'))
    metainfo['base_classes'] = tuple(c for c in metainfo['classes']
                                     if c not in ('kite string', 'colander'))
    with pytest.raises(ValueError, match=r"val\.json: the split in metainfo.*'kite strng'.*did "
                       r"you mean 'kite string'"):
        DATASETS.build(dict(cfg, metainfo=metainfo))


def test_images_the_annotation_file_lists_but_the_folder_lacks_are_named(user_data, tmp_path):
    def one_more(data):
        data['images'].append(dict(id=999, file_name='not_here.jpg', width=64, height=64))
    path = edited_json(user_data, tmp_path, 'train', one_more)
    with pytest.raises(FileNotFoundError, match=r"train_edited\.json: 1 of the 9 images it lists "
                       r"are not in the image folder .*images/train.*not_here\.jpg"):
        DATASETS.build(dict(dataset_cfg('fvit', user_data, tmp_path), ann_file=path))
    rla = dict(dataset_cfg('rla', user_data, tmp_path), ann_file=path, proposal_file=None,
               data_prefix=dict(img='images/train/'), boxes_from_annotations=True)
    with pytest.raises(FileNotFoundError, match=r"train_edited\.json: 1 of the 9 .*not_here"):
        DATASETS.build(rla)


def test_an_embedding_file_without_a_dataset_class_is_named(user_data, tmp_path):
    short = str(tmp_path / 'four_names.pth')
    build_embeddings(user_data, short, '--names', user_data['root'] + 'classes.txt')
    data = torch.load(short)
    keep = [i for i, n in enumerate(data['names']) if n != 'colander']
    data.update(names=[data['names'][i] for i in keep], embeddings=data['embeddings'][keep])
    torch.save(data, short)
    # F-ViT: the box head is built with the dataset's classes
    cfg = Config.fromfile(user_config('fvit', tmp_path, data_root=user_data['root'],
                                      class_embeddings=short))
    with pytest.raises(KeyError, match=r"four_names\.pth.*no embedding for 1 of the 5 .*'colander'"):
        MODELS.build(cfg.model.roi_head.bbox_head)
    # Cat-Seg: the hook picks the dataset's classes from the file before training
    from mmengine.runner import Runner
    cfg = Config.fromfile(user_config('catseg', tmp_path, data_root=user_data['root'],
                                      class_embeddings=short))
    cfg.merge_from_dict({'work_dir': str(tmp_path / 'work'), 'experiment_name': 'custom_bad_emb',
                         'model.backbone.pretrained': user_data['clip']})
    with pytest.raises(KeyError, match=r"four_names\.pth.*no embedding for 1 of the 6 .*'colander'"):
        Runner.from_cfg(cfg).train()


def test_segmentation_data_without_a_label_map_or_with_a_foreign_label_is_named(user_data,
                                                                                tmp_path):
    import shutil
    root = str(tmp_path / 'seg') + '/'
    for sub in ('images/train', 'labels/train'):
        shutil.copytree(user_data['root'] + sub, root + sub)
    os.remove(root + 'labels/train/0002.png')
    cfg = dataset_cfg('catseg', user_data, tmp_path, data_root=root)
    with pytest.raises(FileNotFoundError, match=r"1 of the 8 images under .*images/train' have no "
                       r"label map in .*labels/train'.*0002\.jpg -> 0002\.png"):
        DATASETS.build(cfg)
    Image.fromarray(np.full((64, 64), 9, np.uint8)).save(root + 'labels/train/0002.png')
    # the inherited pipeline's loader says 24 classes; the dataset's own 6 are what counts
    pipeline = Config.fromfile(user_config('catseg', tmp_path, data_root=root)
                               ).train_dataloader.dataset.pipeline
    assert pipeline[1]['type'] == 'LoadCheckedSegMap' and pipeline[1]['num_classes'] > 9
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(dict(cfg, pipeline=pipeline[:2]))
        index = [k for k in range(len(dataset))
                 if dataset.get_data_info(k)['seg_map_path'].endswith('0002.png')][0]
        with pytest.raises(ValueError, match=r"0002\.png'.*\[9\] are outside the class range 0\.\.5"):
            dataset[index]
    with pytest.raises(ValueError, match='needs the class names'):
        DATASETS.build(dict(cfg, metainfo=None))


def test_stage2_boxes_missing_for_an_image_are_named(user_data, tmp_path):
    boxes = dict(user_data['boxes'])
    boxes.pop('val/0101.jpg')
    with open(tmp_path / 'some_boxes.json', 'w') as f:
        json.dump(boxes, f)
    cfg = dataset_cfg('rla', user_data, tmp_path, proposal_file=str(tmp_path / 'some_boxes.json'))
    with pytest.raises(KeyError, match=r"1 of 11 images .*some_boxes\.json.*0101\.jpg"):
        DATASETS.build(cfg)
    no_annotations = edited_json(user_data, tmp_path, 'train', lambda d: d.pop('annotations'))
    with pytest.raises(ValueError, match=r'train_edited\.json: no "annotations" list'):
        DATASETS.build(dict(cfg, ann_file=no_annotations, proposal_file=None,
                            data_prefix=dict(img='images/train/'), boxes_from_annotations=True))


def test_class_lists_can_be_class_name_files(user_data, tmp_path):
    """metainfo classes / novel_classes as files (comments and blank lines are no classes), the
    same files for the box head; a segmentation dataset's classes_file under data_root."""
    root, things = user_data['root'], user_data['things']
    (tmp_path / 'classes.txt').write_text('# my classes\n' + '\n'.join(things) + '\n\n')
    (tmp_path / 'novel.json').write_text(json.dumps(['kite string', 'colander']))
    files = dict(classes=str(tmp_path / 'classes.txt'), novel_classes=str(tmp_path / 'novel.json'))
    cfg = dataset_cfg('fvit', user_data, tmp_path, 'val_dataloader')
    dataset = DATASETS.build(dict(cfg, metainfo=files))
    assert dataset.metainfo['classes'] == things
    assert dataset.metainfo['base_classes'] == ('teapot', 'mug', 'spatula')
    emb_file = str(tmp_path / 'class_embeddings.pth')
    build_embeddings(user_data, emb_file, '--ann', root + 'annotations/val.json')
    model = Config.fromfile(user_config('fvit', tmp_path, data_root=root,
                                        class_embeddings=emb_file)).model
    head = MODELS.build(dict(model.roi_head.bbox_head, class_names=files['classes'],
                             novel_classes=files['novel_classes']))
    assert head.class_names == list(things) and head.novel_classes == ['kite string', 'colander']
    seg = dataset_cfg('catseg', user_data, tmp_path)
    seg = DATASETS.build(dict(seg, metainfo=None, classes_file='classes.txt'))
    assert seg.metainfo['classes'] == (STUFF, ) + things and len(seg) == 8
    with pytest.raises(FileNotFoundError, match=r"metainfo novel_classes: .*no_such\.txt"):
        DATASETS.build(dict(cfg, metainfo=dict(files, novel_classes=str(tmp_path / 'no_such.txt'))))
