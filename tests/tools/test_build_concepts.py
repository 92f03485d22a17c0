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


def _captions_file(path, captions):
    import json
    path.write_text(json.dumps({'annotations': [{'image_id': i, 'caption': c}
                                                for i, c in enumerate(captions)]}))
    return str(path)


def test_tool_reports_counts_and_refuses_a_tiny_vocabulary(tmp_path, capsys):
    # 24 captions: 12 words seen twice, 'dog' 24 times; the default --min-count 5 keeps 1
    words = ['cat', 'horse', 'kite', 'boat', 'train', 'bench', 'clock', 'pizza', 'sheep',
             'truck', 'vase', 'bowl']
    captions = [f'a dog near a {words[i % 12]}' for i in range(24)]
    captions_file = _captions_file(tmp_path / 'captions.json', captions)
    out = tmp_path / 'concepts.txt'
    with pytest.raises(SystemExit, match=r'only 1 of 13 candidate words from 24 captions occur at '
                       r'least 5 times.*lower --min-count to 2 \(keeps 13 concepts\)'):
        main([captions_file, str(out)])
    assert not out.exists()
    concepts = main([captions_file, str(out), '--min-count', '2'])
    assert concepts[0] == 'dog' and sorted(concepts[1:]) == sorted(words)
    printed = capsys.readouterr().out
    assert 'kept 13 concepts (seen at least 2 times) of 13 candidate words from 24 captions' in printed
    with pytest.raises(SystemExit, match='only 4 candidate words in all: use more captions'):
        main([_captions_file(tmp_path / 'few.json', ['a cat', 'a dog', 'two cats', 'a kite and a boat']),
              str(out), '--min-count', '1'])
    # an explicit smaller floor is honoured
    assert len(main([captions_file, str(out), '--min-concepts', '1'])) == 1
