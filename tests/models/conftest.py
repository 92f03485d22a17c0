"""Tiny CLIP weight files with random weights, for the backbone tests."""
import pytest

from refclip_mm.clip.tiny import save_tiny_clip


@pytest.fixture(scope='session', params=['openai', 'eva'])
def kind(request):
    return request.param


@pytest.fixture(scope='session')
def weights(tmp_path_factory):
    """``weights(kind)`` -> (path to an open_clip-format .pth, the open_clip reference model)."""
    cache = {}

    def make(kind):
        if kind not in cache:
            path = str(tmp_path_factory.mktemp(f'w_{kind}') / 'open_clip.pth')
            cache[kind] = (path, save_tiny_clip(path, kind))
        return cache[kind]

    return make
