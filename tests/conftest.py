"""Shared fixtures: generated data only, nothing downloaded."""
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


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
