"""Packaging: a wheel carries configs/ and tools/ as refclip_mm/.mim; an editable install links
them from the checkout, so mim finds a development checkout's own configs."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BUILD = ("import sys; from setuptools import build_meta as b; "
         "print(getattr(b, sys.argv[1])(sys.argv[2]))")


@pytest.fixture
def checkout(tmp_path):
    """A copy of what the build reads (the package, its configs and tools, the metadata)."""
    root = tmp_path / 'checkout'
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.mim')
    for folder in ('refclip_mm', 'configs', 'tools'):
        shutil.copytree(osp.join(REPO, folder), root / folder, ignore=ignore)
    for name in ('setup.py', 'pyproject.toml', 'README.md'):
        shutil.copy(osp.join(REPO, name), root / name)
    return root


def build(checkout, hook, out):
    result = subprocess.run([sys.executable, '-c', BUILD, hook, str(out)], cwd=checkout,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return out / result.stdout.strip().splitlines()[-1]


def test_a_wheel_carries_the_configs_and_tools(checkout, tmp_path):
    wheel = build(checkout, 'build_wheel', tmp_path / 'dist')
    names = set(zipfile.ZipFile(wheel).namelist())
    config = 'refclip_mm/.mim/configs/rla/clipself-patches_vit-b16-openai_8xb2-6e_coco-1024.py'
    assert config in names and 'refclip_mm/.mim/tools/train.py' in names
    assert not any('__pycache__' in n for n in names)


def test_an_editable_install_links_the_checkouts_folders(checkout, tmp_path):
    build(checkout, 'build_editable', tmp_path / 'dist')
    for folder in ('configs', 'tools'):
        mim = checkout / 'refclip_mm' / '.mim' / folder
        if os.name != 'nt':
            assert mim.is_symlink() and os.readlink(mim) == osp.join('..', '..', folder)
        assert mim.resolve() == (checkout / folder).resolve()
    # a config added to the checkout is seen through the link at once
    (checkout / 'configs' / 'mine.py').write_text('x = 1\n')
    assert (checkout / 'refclip_mm' / '.mim' / 'configs' / 'mine.py').read_text() == 'x = 1\n'
