"""tools/build_text_embeddings.py on a tiny tower."""
import importlib.util
import json
import os.path as osp

import pytest
import torch

from refclip_mm.clip import load_class_embeddings, tiny_arch
from refclip_mm.utils.checkpoint import load_checkpoint_file

TOOL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
                'build_text_embeddings.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('build_text_embeddings', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def arch_json(tmp_path):
    path = tmp_path / 'tiny.json'
    path.write_text(json.dumps(tiny_arch('openai')))
    return str(path)


def test_from_names_file(tool, arch_json, tmp_path):
    names = tmp_path / 'names.txt'
    names.write_text('# classes\ncat\n\nhot_dog\n')
    out = str(tmp_path / 'emb.pth')
    tool.main(['--names', str(names), '--arch-json', arch_json, '--templates', 'single', '--out', out])
    data = load_checkpoint_file(out)
    assert data['names'] == ['cat', 'hot_dog'] and data['model'] == 'tiny'
    assert data['embeddings'].shape == (2, 32) and data['templates'] == ['a photo of a {}.']
    assert torch.allclose(data['embeddings'].norm(dim=-1), torch.ones(2), atol=1e-5)


def test_from_coco_annotation_with_weights(tool, arch_json, tiny_clip_file, tmp_path):
    ann = tmp_path / 'instances.json'
    ann.write_text(json.dumps({'images': [], 'annotations': [], 'categories': [
        {'id': 7, 'name': 'zebra'}, {'id': 2, 'name': 'bicycle'}]}))
    out = str(tmp_path / 'coco_emb.pth')
    tool.main(['--ann', str(ann), '--arch-json', arch_json, '--pretrained', tiny_clip_file,
               '--templates', 'detection', '--out', out])
    loaded = load_class_embeddings(out)
    assert loaded.names == ['bicycle', 'zebra']
    assert len(loaded.templates) == 12


def test_from_dataset_and_errors(tool, arch_json, tmp_path):
    out = str(tmp_path / 'voc.pth')
    tool.main(['--dataset', 'voc', '--arch-json', arch_json, '--templates', 'single', '--out', out])
    assert len(load_class_embeddings(out).names) == 20
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        tool.main(['--names', str(tmp_path / 'nope.txt'), '--arch-json', arch_json, '--out', out])
    with pytest.raises(SystemExit):
        tool.main(['--dataset', 'coco', '--names', 'x.txt', '--out', out])
