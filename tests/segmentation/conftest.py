"""Fixtures of the segmentation tests: tiny CLIP weights and class embeddings from its text tower."""
import os.path as osp

import pytest
from factories import text_embeddings_file

from refclip_mm.datasets.synthetic import SEMANTIC_CLASSES


@pytest.fixture(scope='session')
def tiny_assets(tmp_path_factory, tiny_clip_file):
    """``dict(weights, embeddings)``: a tiny CLIP file and its 24 synthetic-class embeddings."""
    root = tmp_path_factory.mktemp('catseg_assets')
    path = str(root / 'synthetic_text.pth')
    text_embeddings_file(path, SEMANTIC_CLASSES, tiny_clip_file)
    assert osp.isfile(path)
    return dict(weights=tiny_clip_file, embeddings=path, root=str(root))
