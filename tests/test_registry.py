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


def test_name_clash_within_refclip_mm_is_an_error():
    import mmdet.registry

    from refclip_mm.registry import MODELS
    ours = MODELS.get('CLIPViT')

    class CLIPViT:  # same name as one of ours
        pass
    with pytest.raises(KeyError, match='CLIPViT is already registered in the refclip_mm'):
        MODELS.register_module(module=CLIPViT)
    assert MODELS.module_dict['CLIPViT'] is ours  # nothing half-registered
    assert mmdet.registry.MODELS.module_dict['CLIPViT'] is ours


def fresh_registries():
    """A fresh host registry (standing in for a future mmdet) that already binds ``CLIPViT`` to
    a class of its own, an empty one (standing in for mmseg), and a fresh refclip_mm-scoped
    registry mirroring into both: the package's own registries stay untouched."""
    from mmengine.registry import Registry

    from refclip_mm.registry import MirroredRegistry
    host = Registry('model', scope='futuredet')

    @host.register_module()
    class CLIPViT:  # the host's own class under one of our names
        pass
    other = Registry('model', scope='futureseg')
    ours = MirroredRegistry('model', parent=None, mirrors=[host, other], locations=[])
    return host, other, ours, CLIPViT


def test_name_clash_with_a_host_registry_is_a_clear_early_warning():
    from refclip_mm.models.backbones.clip_vit import CLIPViT
    from refclip_mm.registry import MirrorClashWarning
    host, other, ours, host_class = fresh_registries()
    with pytest.warns(MirrorClashWarning) as caught:
        ours.register_module(module=CLIPViT)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith('refclip_mm: refclip_mm.models.backbones.clip_vit.CLIPViT is not '
                              "registered as 'CLIPViT' in the futuredet 'model' registry")
    assert f'already bound to {__name__}.fresh_registries.<locals>.CLIPViT' in message
    assert "type='refclip_mm.CLIPViT' still reaches refclip_mm's CLIPViT" in message
    assert host.module_dict['CLIPViT'] is host_class  # the host keeps its class
    assert other.module_dict['CLIPViT'] is CLIPViT  # mirrored where the name is free
    assert ours.module_dict['CLIPViT'] is CLIPViT  # and ours has it under its scope


def test_mirroring_function_checks_before_registering(recwarn):
    from refclip_mm.registry import MirrorClashWarning, names_to_mirror
    host, other, _, host_class = fresh_registries()

    class Free:
        pass
    assert names_to_mirror(Free, ['Free'], host) == ['Free']
    assert names_to_mirror(host_class, ['CLIPViT'], host) == []  # already there: nothing to do
    assert not [w for w in recwarn.list if w.category is MirrorClashWarning]
    with pytest.warns(MirrorClashWarning, match="in the futuredet 'model' registry"):
        assert names_to_mirror(Free, ['Free2', 'CLIPViT'], host) == ['Free2']
    assert 'Free' not in host.module_dict  # the check registers nothing


SIMULATED_FUTURE_MMDET = textwrap.dedent('''
    import warnings
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG

    @DET.register_module()
    class CLIPViT:  # what a future mmdet might add
        pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        import refclip_mm
    from refclip_mm.registry import MODELS, MirrorClashWarning
    clashes = [str(w.message) for w in caught if w.category is MirrorClashWarning]
    assert len(clashes) == 1, clashes
    ours = MODELS.module_dict['CLIPViT']
    assert ours.__module__ == 'refclip_mm.models.backbones.clip_vit'
    assert DET.get('CLIPViT') is CLIPViT  # mmdet keeps its own class under the plain name
    assert DET.get('refclip_mm.CLIPViT') is ours  # the scope-qualified name reaches ours
    assert SEG.get('CLIPViT') is ours  # still mirrored where the name is free
    print(clashes[0])
''')


def test_simulated_future_mmdet_clash_keeps_the_package_importable(run_python):
    """mmdet binds a name of ours before ``import refclip_mm``: the import warns and goes on."""
    result = run_python(['-c', SIMULATED_FUTURE_MMDET])  # -c: the checkout's refclip_mm
    assert result.returncode == 0, result.stderr[-3000:]
    assert "in the mmdet 'model' registry" in result.stdout
    assert "type='refclip_mm.CLIPViT' still reaches refclip_mm's CLIPViT" in result.stdout
