"""The process-wide changes of ``import refclip_mm`` (refclip_mm/patches.py) can be seen, turned
off and turned on again.

The identity checks run in a fresh interpreter (``-c`` from the checkout, so that the checkout's
refclip_mm is imported), which captures mmengine's and lvis's own objects *before* importing
refclip_mm and compares with ``is``.
"""
import importlib.util
import re
import textwrap

import pytest

from refclip_mm import patches

NAMES = ['checkpoint_loader', 'local_backend', 'lvis_numpy']

# Captures the originals, imports refclip_mm, then runs the code given as argv[1].
PRELUDE = textwrap.dedent('''
    import os, sys
    from mmengine.fileio import get_file_backend
    from mmengine.fileio.backends import LocalBackend, registry_utils
    from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

    try:
        import lvis.eval as lvis_eval
    except ImportError:
        lvis_eval = None
    import numpy
    LVIS = lvis_eval is not None and not hasattr(numpy, 'float')  # the lvis patch applies
    ORIGINAL = dict(
        checkpoint_loader=CheckpointLoader._schemes[''],
        local_backend=registry_utils.backends['local'],
        local_prefix=registry_utils.prefix_to_backends[''],
        lvis_numpy=lvis_eval.np if lvis_eval is not None else None)
    assert ORIGINAL['checkpoint_loader'] is load_from_local
    assert ORIGINAL['local_backend'] is LocalBackend is ORIGINAL['local_prefix']

    def current():
        return dict(
            checkpoint_loader=CheckpointLoader._schemes[''],
            local_backend=registry_utils.backends['local'],
            local_prefix=registry_utils.prefix_to_backends[''],
            lvis_numpy=lvis_eval.np if lvis_eval is not None else None)

    def changed():
        """Names whose objects are not the originals (checked with ``is``)."""
        now = current()
        return sorted(k for k in ORIGINAL if now[k] is not ORIGINAL[k])

    def cached_backend_type():
        return type(get_file_backend('/tmp/x.pth', enable_singleton=True))

    cached_backend_type()  # a LocalBackend cached before the import: the patch must drop it
    import refclip_mm
    from refclip_mm import patches
    assert os.path.dirname(refclip_mm.__file__) == os.path.abspath('refclip_mm'), \\
        refclip_mm.__file__
    PATCHED = sorted(['checkpoint_loader', 'local_backend', 'local_prefix']
                     + (['lvis_numpy'] if LVIS else []))
    ALL = ['checkpoint_loader', 'local_backend'] + (['lvis_numpy'] if LVIS else [])
''')

ROUND_TRIP = textwrap.dedent('''
    # default: everything applied
    assert changed() == PATCHED, changed()
    assert patches.applied() == ALL
    assert cached_backend_type() is patches.AtomicLocalBackend
    applied_objects = current()

    # off: the exact originals are back
    assert patches.restore_originals() == ALL
    assert changed() == [] and patches.applied() == [], changed()
    assert cached_backend_type() is LocalBackend
    assert patches.restore_originals() == []  # nothing left to undo

    # on again: the same replacements as at import
    assert patches.apply() == ALL
    assert changed() == PATCHED
    now = current()
    assert all(now[k] is applied_objects[k] for k in ('checkpoint_loader', 'local_backend',
                                                      'local_prefix'))
    assert cached_backend_type() is patches.AtomicLocalBackend

    # one at a time
    patches.restore_originals('local_backend')
    assert changed() == sorted(set(PATCHED) - {'local_backend', 'local_prefix'})
    patches.restore_originals(['checkpoint_loader', 'lvis_numpy'])
    assert changed() == []
    patches.apply(['lvis_numpy'])
    assert changed() == (['lvis_numpy'] if LVIS else [])
    print('LVIS', LVIS, 'OK')
''')

ENV_OFF = textwrap.dedent('''
    expected = {'0': [], '-lvis_numpy': ['checkpoint_loader', 'local_backend', 'local_prefix'],
                'lvis_numpy': ['lvis_numpy'] if LVIS else []}[os.environ['REFCLIP_MM_PATCHES']]
    assert changed() == expected, changed()
    assert refclip_mm.registry.MODELS.get('CLIPViT') is not None  # registration is unaffected
    patches.apply()
    assert changed() == PATCHED
    print('LVIS', LVIS, 'OK')
''')


def run_checked(run_python, code, env=None):
    result = run_python(['-c', PRELUDE + code], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == 'OK', result.stdout[-2000:]
    return result.stdout


def test_default_import_applies_all_and_they_restore_exactly(run_python):
    out = run_checked(run_python, ROUND_TRIP, env={'REFCLIP_MM_PATCHES': ''})
    import numpy
    lvis_patch = importlib.util.find_spec('lvis') is not None and not hasattr(numpy, 'float')
    assert f'LVIS {lvis_patch}' in out  # the tested stack (lvis 0.5.3, numpy 1.26): True


@pytest.mark.parametrize('value', ['0', '-lvis_numpy', 'lvis_numpy'])
def test_environment_variable_turns_them_off_at_import(run_python, value):
    run_checked(run_python, ENV_OFF, env={'REFCLIP_MM_PATCHES': value})


def test_unknown_name_in_environment_stops_the_import(run_python):
    result = run_python(['-c', 'import refclip_mm'], env={'REFCLIP_MM_PATCHES': 'lvis'})
    assert result.returncode != 0
    assert "REFCLIP_MM_PATCHES='lvis': unknown refclip_mm patch(es) ['lvis']" in result.stderr
    assert 'checkpoint_loader' in result.stderr  # the known names are listed


@pytest.mark.parametrize('value,names', [
    (None, NAMES), ('', NAMES), ('1', NAMES), ('ALL', NAMES), (' on ', NAMES),
    ('0', []), ('none', []), ('off', []),
    ('local_backend', ['local_backend']),
    ('lvis_numpy, checkpoint_loader', ['checkpoint_loader', 'lvis_numpy']),
    ('-lvis_numpy', ['checkpoint_loader', 'local_backend']),
    ('-lvis_numpy,-local_backend', ['checkpoint_loader']),
])
def test_names_from_environment(monkeypatch, value, names):
    if value is None:
        monkeypatch.delenv(patches.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(patches.ENV_VAR, value)
    assert patches.names_from_environment() == names


@pytest.mark.parametrize('value,message', [
    ('local_backend,-lvis_numpy', 'mixes names and -names'),
    ('-nope', "unknown refclip_mm patch(es) ['nope']"),
])
def test_names_from_environment_rejects(value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        patches.names_from_environment(value)


def test_every_patch_says_what_and_why():
    assert list(patches.PATCHES) == NAMES
    for name, patch in patches.PATCHES.items():
        assert patch.name == name and patch.replaces and patch.why
