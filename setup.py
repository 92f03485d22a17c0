"""Packaging hook: configs/ and tools/ reach the package as ``refclip_mm/.mim``.

``mim train refclip_mm <config>`` looks for ``<package dir>/.mim/{configs,tools}``.
A regular (wheel) install, ``pip install .``, copies both folders there; an editable install,
``pip install -e .``, links them from the checkout instead (a copy where the file system has
no symbolic links), so a development checkout serves its own configs to mim. Everything else
lives in pyproject.toml.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
MIM_FOLDERS = ('configs', 'tools')


def place(source: str, target: str, link: bool) -> None:
    """Put ``source`` at ``target``: a relative symbolic link (``link``) or a copy."""
    if os.path.islink(target) or os.path.isfile(target):
        os.remove(target)
    elif os.path.isdir(target):
        shutil.rmtree(target)
    if link:
        try:
            os.symlink(os.path.relpath(source, os.path.dirname(target)), target,
                       target_is_directory=True)
            return
        except OSError:
            pass  # no symbolic links here: copy
    shutil.copytree(source, target, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


class BuildPyWithMim(build_py):
    """build_py that also provides configs/ and tools/ as refclip_mm/.mim."""

    def run(self):
        super().run()
        editable = bool(getattr(self, 'editable_mode', False))
        package = os.path.join(ROOT if editable else self.build_lib, 'refclip_mm')
        mim_dir = os.path.join(package, '.mim')
        os.makedirs(mim_dir, exist_ok=True)
        for folder in MIM_FOLDERS:
            place(os.path.join(ROOT, folder), os.path.join(mim_dir, folder), link=editable)


setup(cmdclass={'build_py': BuildPyWithMim})
