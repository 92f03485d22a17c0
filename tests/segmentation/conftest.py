"""Fixtures of the segmentation tests: tiny CLIP weights and class embeddings from its text tower."""
import os.path as osp

import pytest

from refclip_mm.clip import (TINY_OPENAI_ARCH, build_text_tower, make_class_embeddings,
                             save_class_embeddings, save_tiny_clip)
from refclip_mm.datasets.synthetic import SEMANTIC_CLASSES


@pytest.fixture(scope='session')
def tiny_assets(tmp_path_factory):
    """``dict(weights, embeddings)``: a tiny CLIP file and its 24 synthetic-class embeddings."""
    root = tmp_path_factory.mktemp('catseg_assets')
    weights = str(root / 'tiny_clip.pth')
    save_tiny_clip(weights)
    text = build_text_tower(dict(TINY_OPENAI_ARCH), weights)
    emb = make_class_embeddings(text, list(SEMANTIC_CLASSES), templates='single', model='tiny')
    path = str(root / 'synthetic_text.pth')
    save_class_embeddings(path, emb)
    assert osp.isfile(path)
    return dict(weights=weights, embeddings=path, root=str(root))
