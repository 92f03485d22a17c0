"""refclip_mm modules are reachable from mmdet and mmseg configs, with and without custom_imports.

Each case runs in a fresh interpreter, so that refclip_mm is imported only by
the mechanism under test (``custom_imports`` or mmengine's scope import).
"""
import textwrap

import pytest

BUILD_DATASET = textwrap.dedent('''
    import sys
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(sys.argv[1])
    assert ('refclip_mm' in sys.modules) == bool(cfg.get('custom_imports')), 'import state'
    init_default_scope(cfg.default_scope)
    registry = __import__(cfg.default_scope + '.registry', fromlist=['DATASETS']).DATASETS
    dataset = registry.build(cfg.dataset)
    print(type(dataset).__module__, type(dataset).__name__, len(dataset))
''')


def write_config(path, scope, dataset, custom_imports):
    lines = [f'default_scope = {scope!r}', f'dataset = {dataset!r}']
    if custom_imports:
        lines.append("custom_imports = dict(imports=['refclip_mm'], allow_failed_imports=False)")
    path.write_text('\n'.join(lines) + '\n')


def seg_dataset(root, type_name):
    return dict(type=type_name, data_root=root, pipeline=[],
                data_prefix=dict(img_path='images/train', seg_map_path='semantic/train'))


def det_dataset(root, type_name):
    return dict(type=type_name, data_root=root, pipeline=[],
                ann_file='annotations/instances_train.json', data_prefix=dict(img='images/train'))


@pytest.mark.parametrize('scope,make,name,custom_imports', [
    ('mmseg', seg_dataset, 'SyntheticSceneSegDataset', True),
    ('mmdet', det_dataset, 'SyntheticSceneDetDataset', True),
    ('mmseg', seg_dataset, 'refclip_mm.SyntheticSceneSegDataset', False),
    ('mmdet', det_dataset, 'refclip_mm.SyntheticSceneDetDataset', False),
])
def test_dataset_built_from_foreign_scope(tmp_path, synthetic_root, run_python, scope, make, name,
                                          custom_imports):
    config = tmp_path / 'cfg.py'
    write_config(config, scope, make(synthetic_root, name), custom_imports)
    script = tmp_path / 'build.py'
    script.write_text(BUILD_DATASET)
    result = run_python([str(script), str(config)])
    assert result.returncode == 0, result.stderr[-3000:]
    module, cls, length = result.stdout.split()[-3:]
    assert module.startswith('refclip_mm.datasets') and cls == name.split('.')[-1]
    assert int(length) == 12


def test_plain_name_without_custom_imports_is_not_found(tmp_path, synthetic_root, run_python):
    """The negative control: without custom_imports and without the scope prefix nothing registers."""
    config = tmp_path / 'cfg.py'
    write_config(config, 'mmseg', seg_dataset(synthetic_root, 'SyntheticSceneSegDataset'), False)
    script = tmp_path / 'build.py'
    script.write_text(BUILD_DATASET)
    result = run_python([str(script), str(config)])
    assert result.returncode != 0
    assert 'SyntheticSceneSegDataset is not in the' in result.stderr


def test_every_registration_is_mirrored():
    import mmdet.registry
    import mmseg.registry

    from refclip_mm import registry
    for attr in ('MODELS', 'HOOKS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'TASK_UTILS',
                 'VISUALIZERS', 'OPTIM_WRAPPERS'):
        ours = getattr(registry, attr)
        assert ours.scope == 'refclip_mm'
        for mirror in (getattr(mmdet.registry, attr), getattr(mmseg.registry, attr)):
            for name, cls in ours.module_dict.items():
                assert mirror.get(name) is cls, f'{attr}.{name} missing from {mirror.scope}'
    assert 'SyntheticSceneSegDataset' in registry.DATASETS.module_dict
    assert 'AutocastOptimWrapper' in registry.OPTIM_WRAPPERS.module_dict


def test_name_clash_with_mmdet_is_an_error():
    from refclip_mm.registry import MODELS

    class FPN:  # same name as mmdet's neck
        pass
    with pytest.raises(KeyError, match='FPN is already registered'):
        MODELS.register_module(module=FPN)
    assert "FPN" not in MODELS.module_dict  # nothing half-registered
