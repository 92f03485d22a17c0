"""Where the package's shipped files are: a checkout's configs/ or an installed copy's .mim/."""
import os.path as osp

PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_root() -> str:
    """The ``configs`` folder: the checkout's when the package runs from one, else the
    installed package's ``.mim/configs`` (what ``mim`` uses)."""
    for candidate in (osp.join(osp.dirname(PACKAGE), 'configs'),
                      osp.join(PACKAGE, '.mim', 'configs')):
        if osp.isdir(osp.join(candidate, '_base_')):
            return candidate
    raise FileNotFoundError(f'no configs folder next to {PACKAGE} or in its .mim/: reinstall '
                            'refclip_mm (pip install .) or run from a checkout')
