"""Shared fixtures: generated data only, nothing downloaded. Test files (tiny CLIPs, class
embeddings, Refiner files) are built by tests/factories.py."""
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _share_the_cores_between_workers():
    """Under pytest-xdist (``make test``) each worker gets its share of the cores for torch, so
    two workers on two cores do not run four threads."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers > 1:
        import torch
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // workers))


_share_the_cores_between_workers()

# Modules that take minutes: collected first, so that under pytest-xdist (``--dist loadscope``,
# one module per worker at a time) they start at once and overlap with the many short modules.
SLOW_MODULES = ('tests/toyworld/test_toyworld_tool.py', 'tests/test_demo.py',
                'tests/test_train_tools.py', 'tests/test_reliability.py')


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.nodeid.split('::')[0] not in SLOW_MODULES)  # stable sort


@pytest.fixture(autouse=True)
def no_default_scope():
    """Every test starts without a default registry scope, whatever ran before it (a Runner sets
    one and keeps it), so a test that builds from plain names states its scope, as a config does,
    and passes in any order and on any test worker."""
    from collections import OrderedDict

    from mmengine.registry import DefaultScope
    before = DefaultScope._instance_dict
    DefaultScope._instance_dict = OrderedDict()
    yield
    DefaultScope._instance_dict = before


@pytest.fixture(scope='session', params=['openai', 'eva'])
def kind(request):
    """The two tiny tower kinds (OpenAI-style and EVA-style ViT)."""
    return request.param


@pytest.fixture(scope='session')
def weights(tmp_path_factory):
    """``weights(kind)`` -> (path to a tiny CLIP's open_clip-format .pth, the open_clip model
    whose weights it holds); one file per kind for the session: read it, never write it."""
    from factories import tiny_clip_file
    cache = {}

    def make(kind):
        if kind not in cache:
            path = str(tmp_path_factory.mktemp(f'w_{kind}') / 'open_clip.pth')
            cache[kind] = (path, tiny_clip_file(path, kind))
        return cache[kind]

    return make


@pytest.fixture(scope='session')
def tiny_clip_file(weights):
    """Path of the session's tiny OpenAI-style CLIP weight file (seed 0; read only)."""
    return weights('openai')[0]


@pytest.fixture
def one_torch_thread():
    """Tiny inputs: one torch thread avoids thread-pool stalls on a busy machine."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """A small synthetic-scene dataset (COCO + mmseg formats), 12 train / 4 val images of 64 px."""
    from refclip_mm.datasets.synthetic import write_dataset
    root = str(tmp_path_factory.mktemp('synthetic'))
    write_dataset(root, dict(train=12, val=4), seed=0)
    return root


def _run_python(args, cwd=None, env=None, timeout=600):
    """Run ``python <args>`` with this interpreter; return the CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable] + list(args), cwd=cwd or REPO_ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='session')
def run_python():
    """``run_python(args, cwd=None, env=None)``: run this interpreter in a fresh process."""
    return _run_python
