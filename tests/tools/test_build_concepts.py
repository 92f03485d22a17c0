"""Concept vocabulary from captions: frequency, plural folding, function words dropped."""
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools'))
from build_concepts import main  # noqa: E402

from refclip_mm.datasets.concepts import extract_concepts  # noqa: E402


def test_concepts_from_the_synthetic_captions(synthetic_root, tmp_path):
    out = tmp_path / 'concepts.txt'
    concepts = main([osp.join(synthetic_root, 'annotations', 'captions_train.json'), str(out),
                     '--min-count', '1'])
    assert out.read_text().split('\n')[:len(concepts)] == concepts
    assert 'photo' not in concepts and 'and' not in concepts
    assert set(concepts) & {'square', 'circle', 'triangle', 'ring', 'cross'}
    assert set(concepts) & {'grass', 'sand', 'water', 'stone'}


def test_plurals_fold_and_counts_rank():
    captions = ['two dogs and a dog', 'a dog on grass', 'a cat on grass', 'cats']
    assert extract_concepts(captions, min_count=2) == ['dog', 'cat', 'grass']
    with pytest.raises(ValueError, match='at least 9 times'):
        extract_concepts(captions, min_count=9)
