"""Fixtures for the F-ViT tests: a tiny CLIP file, class embeddings, COCO/LVIS-format data."""
import json
import os.path as osp

import pytest
from factories import text_embeddings_file

from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES, THING_CLASSES

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_COCO_CFG = osp.join(REPO, 'configs', 'fvit', 'fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py')
TINY_LVIS_CFG = osp.join(REPO, 'configs', 'fvit',
                         'fvit-mask-rcnn_clip-tiny_1xb4-20i_synthetic-lvis-64.py')


@pytest.fixture(scope='session')
def fvit_assets(tmp_path_factory, tiny_clip_file):
    """Tiny CLIP weights and class embeddings of the 20 synthetic classes made by its text tower."""
    root = tmp_path_factory.mktemp('fvit_assets')
    emb_file = str(root / 'embeddings.pth')
    text_embeddings_file(emb_file, THING_CLASSES, tiny_clip_file)
    return dict(clip=tiny_clip_file, embeddings=emb_file, root=str(root))


def lvis_from_coco(src: str, dst: str, rare=NOVEL_THING_CLASSES, image_dir: str = '') -> dict:
    """Write an LVIS-format copy of a COCO instances file (frequency r for ``rare``, else c/f)."""
    with open(src) as f:
        data = json.load(f)
    for index, cat in enumerate(data['categories']):
        cat['frequency'] = 'r' if cat['name'] in rare else ('c' if index % 2 else 'f')
        cat.pop('split', None)
        cat['synonyms'] = [cat['name']]
    for image in data['images']:
        image['coco_url'] = 'http://images.cocodataset.org/' + image_dir + image['file_name']
        image['neg_category_ids'] = []
        image['not_exhaustive_category_ids'] = []
    with open(dst, 'w') as f:
        json.dump(data, f)
    return data


def tiny_options(data_root: str, assets: dict, train_ann: str = 'annotations/instances_train.json',
                 test_ann: str = 'annotations/instances_train.json', iters: int = 3) -> dict:
    """--cfg-options for the tiny OV-COCO config on generated data (evaluated on ``test_ann``)."""
    root = data_root.rstrip('/') + '/'
    opts = {
        'model.backbone.pretrained': assets['clip'],
        'model.roi_head.bbox_head.class_embeddings': assets['embeddings'],
        'train_dataloader.batch_size': 2,
        'train_dataloader.dataset.data_root': root,
        'train_dataloader.dataset.ann_file': train_ann,
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': iters,
        'default_hooks.checkpoint.interval': iters,
        'default_hooks.logger.interval': 1,
    }
    for split in ('val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = root
        opts[f'{split}_dataloader.dataset.ann_file'] = test_ann
        opts[f'{split}_dataloader.dataset.data_prefix.img'] = 'images/train/'
        opts[f'{split}_evaluator.ann_file'] = root + test_ann
    return opts
