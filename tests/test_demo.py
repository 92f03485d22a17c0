"""The README's main job (tools/demo.py) runs end to end in its fast mode, quietly, on the
default tiny CLIP and on the tiny SigLIP 2 tower."""
import json
import os.path as osp
import sys

import torch
from mmengine.config import Config

from refclip_mm.clip import (build_text_tower, load_class_embeddings, make_class_embeddings,
                             tiny_arch)
from refclip_mm.datasets.synthetic import THING_CLASSES
from refclip_mm.utils.checkpoint import load_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_demo_fast_runs_every_stage_in_a_few_lines(tmp_path, capfd):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from demo import main
    work = tmp_path / 'demo'
    results = main(['--fast', '--work-dir', str(work), '--data-root', str(tmp_path / 'data')])
    printed = capfd.readouterr()
    lines = (printed.out + printed.err).splitlines()
    assert len(lines) < 60, '\n'.join(lines)
    assert sum(line.startswith('[') and '/9]' in line for line in lines) == 9  # a line a stage
    assert len(results) == 9
    for name in ('tiny_clip.pth', 'refiner_tiny.pth', 'stage2_tower.pth',
                 'dense_quality/dense_quality.csv', 'dense_vis/all.png',
                 'stage1/console.log', 'fvit/console.log'):
        assert (work / name).is_file(), name
    quality = next(v for k, v in results.items() if k.startswith('dense quality'))
    assert set(quality) == {'clip', 'clip+refiner', 'r-sc-rla'}
    assert all(0.0 < v <= 100.0 for v in quality.values())
    segmentation = next(v for k, v in results.items() if k.startswith('segmentation'))
    assert 0.0 <= segmentation['mIoU'] <= 100.0 and segmentation['aAcc'] > 0.0
    detection = next(v for k, v in results.items() if k.startswith('open-vocabulary detection'))
    assert set(detection) == {'base_ap50', 'novel_ap50'}  # OVCocoMetric's split results
    assert all(0.0 <= v <= 1.0 for v in detection.values())  # -1 would mean no novel objects
    words = next(v for k, v in results.items() if k.startswith('your words'))
    assert 'yellow' in words['words']  # a novel class among the words
    pictures = list((work / 'your_words' / 'vis').iterdir())
    assert len(pictures) == 1 and pictures[0].stat().st_size > 1000
    predictions = list((work / 'your_words' / 'preds').iterdir())
    assert len(predictions) == 1 and predictions[0].suffix == '.json'


def test_demo_fast_on_the_tiny_siglip2_tower(tmp_path, capfd):
    """--tower siglip2: every stage on the tiny SigLIP 2 CLIP, its model folder's text tower and
    tokenizer for the class names and the words, SigLIP's normalisation in every config."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from demo import main
    work = tmp_path / 'demo'
    results = main(['--fast', '--tower', 'siglip2', '--work-dir', str(work), '--data-root',
                    str(tmp_path / 'data')])
    printed = capfd.readouterr()
    lines = (printed.out + printed.err).splitlines()
    assert len(lines) < 60, '\n'.join(lines)
    assert sum(line.startswith('[') and '/9]' in line for line in lines) == 9
    assert len(results) == 9 and any('SigLIP 2' in title for title in results)
    folder = work / 'tiny_siglip2'  # the CLIP: an open_clip model folder with its tokenizer
    for name in ('open_clip_config.json', 'open_clip_model.safetensors', 'tokenizer.json'):
        assert (folder / name).is_file(), name
    for name in ('refiner_tiny.pth', 'dense_vis/all.png', 'fvit/console.log'):
        assert (work / name).is_file(), name
    siglip = tiny_arch('siglip2')
    tower = load_checkpoint_file(str(work / 'stage2_tower.pth'))['meta']
    assert tower['clip_model'] == siglip and tower['method']['scd'] == 'R-SC-RLA'
    assert tower['initial'] == str(folder / 'open_clip_model.safetensors')
    # the configs each stage ran, as mmengine saved them in its folder: the SigLIP tower and
    # SigLIP's normalisation (mean = std = 127.5) in every data preprocessor
    for stage, arch_key in (('stage1', 'clip_model'), ('stage2', 'clip_model'),
                            ('segmentation', 'backbone.clip_model'),
                            ('fvit', 'backbone.clip_model')):
        [saved] = (work / stage).glob('*.py')
        model = Config.fromfile(str(saved)).model
        arch = model
        for key in arch_key.split('.'):
            arch = arch[key]
        assert arch.to_dict() == siglip, stage
        assert list(model.data_preprocessor.mean) == [127.5] * 3, stage
        assert list(model.data_preprocessor.std) == [127.5] * 3, stage
    quality = next(v for k, v in results.items() if k.startswith('dense quality'))
    assert set(quality) == {'clip', 'clip+refiner', 'r-sc-rla'}
    rows = (work / 'dense_quality' / 'dense_quality.csv').read_text().splitlines()
    assert [row.split(',')[0] for row in rows[1:]] == ['clip', 'clip+refiner', 'r-sc-rla']
    detection = next(v for k, v in results.items() if k.startswith('open-vocabulary detection'))
    assert set(detection) == {'base_ap50', 'novel_ap50'}
    # the class embeddings are the SigLIP text tower's, through the folder's own tokenizer
    text = build_text_tower(f'local-dir:{folder}')
    with torch.no_grad():
        expected = make_class_embeddings(text, list(THING_CLASSES), templates='single')
    saved = load_class_embeddings(str(work / 'class_embeddings.pth'))
    assert list(saved.names) == list(THING_CLASSES)
    torch.testing.assert_close(saved.embeddings, expected.embeddings)
    words = next(v for k, v in results.items() if k.startswith('your words'))
    [picture] = (work / 'your_words' / 'vis').iterdir()
    assert picture.stat().st_size > 1000
    [prediction] = (work / 'your_words' / 'preds').iterdir()
    assert json.loads(prediction.read_text())['classes'] == words['words'].split(', ')
