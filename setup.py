"""Packaging hook: ship configs/ and tools/ inside the package as ``refclip_mm/.mim``.

``mim train refclip_mm <config>`` looks for ``<package dir>/.mim/{configs,tools}``.
A regular (wheel) install copies both folders there; everything else lives in
pyproject.toml.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

MIM_FOLDERS = ('configs', 'tools')


class BuildPyWithMim(build_py):
    """build_py that also copies configs/ and tools/ into refclip_mm/.mim."""

    def run(self):
        super().run()
        if self.editable_mode:
            return
        root = os.path.dirname(os.path.abspath(__file__))
        mim_dir = os.path.join(self.build_lib, 'refclip_mm', '.mim')
        for folder in MIM_FOLDERS:
            target = os.path.join(mim_dir, folder)
            if os.path.exists(target):
                shutil.rmtree(target)
            shutil.copytree(os.path.join(root, folder), target,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


setup(cmdclass={'build_py': BuildPyWithMim})
