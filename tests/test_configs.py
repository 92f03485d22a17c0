"""Every shipped config parses, names registered types, and (stage configs) keeps METHOD defaults."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import refclip_mm  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_config_parses_and_names_registered_types(path):
    cfg = Config.fromfile(path)
    scope = cfg.get('default_scope', 'refclip_mm')
    registries = __import__(f'{scope}.registry', fromlist=['MODELS'])
    assert registries.MODELS.get(cfg.model.type) is not None, cfg.model.type
    for hook in cfg.get('custom_hooks', []):
        assert registries.HOOKS.get(hook.type) is not None, hook.type


STAGE2 = [p for p in CONFIGS if osp.sep + 'rla' + osp.sep in p and 'tiny' not in p]


@pytest.mark.parametrize('path', STAGE2, ids=lambda p: osp.basename(p))
def test_stage2_configs_follow_the_method_defaults(path):
    cfg = Config.fromfile(path)
    assert cfg.optim_wrapper.optimizer.lr == 1e-5 and cfg.optim_wrapper.optimizer.weight_decay == 0.1
    assert cfg.train_cfg.max_epochs == 6
    assert cfg.train_dataloader.batch_size * 8 == 16
    hooks = [h for h in cfg.get('custom_hooks', []) if h.type == 'SCDDistillHook']
    name = osp.basename(path)
    if '-sc_' in name or '-rsc_' in name:
        (hook, ) = hooks
        assert (hook.tau, hook.loss_weight, hook.start_ratio, hook.grid_size) == (0.2, 0.4, 0.1, 14)
        assert (hook.refiner_file is not None) == ('-rsc_' in name)
    else:
        assert not hooks


def test_every_stage2_combination_is_shipped():
    """3 methods x {RLA, SC, R-SC} x 4 towers."""
    names = {osp.basename(p) for p in STAGE2}
    assert len(names) == 36
    for method in ('clipself-patches', 'clipself-proposals', 'regionclip'):
        for variant in ('', '-sc', '-rsc'):
            for tower in ('vit-b16-openai', 'eva02-b16', 'vit-l14-openai', 'eva02-l14'):
                size = 896 if 'l14' in tower else 1024
                assert f'{method}{variant}_{tower}_8xb2-6e_coco-{size}.py' in names


SIZE_KEYS = ('scale', 'crop_size', 'size', 'fixed_size')  # the image-size keys of our pipelines
FULL_SIZE = [p for p in CONFIGS if osp.basename(osp.dirname(p)) in ('refiner', 'rla', 'fvit')
             and 'tiny' not in osp.basename(p)]


def size_values(value):
    """Every value of an image-size key in a config tree."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SIZE_KEYS:
                yield item
            else:
                yield from size_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from size_values(item)


@pytest.mark.parametrize('path', FULL_SIZE, ids=lambda p: osp.relpath(p, REPO))
def test_the_image_size_reaches_every_pipeline_and_the_padding(path):
    """A config states its image size once (``image_size``); configs for another size derive
    their pipelines from it, so no pipeline or preprocessor may keep another size."""
    cfg = Config.fromfile(path)
    places = [cfg.model.get('data_preprocessor', {})]
    places += [cfg[loader].dataset.pipeline for loader in
               ('train_dataloader', 'val_dataloader', 'test_dataloader') if cfg.get(loader)]
    sizes = [v for place in places for v in size_values(place)]
    assert sizes and all(v == cfg.image_size for v in sizes), (cfg.image_size, sizes)
    size = cfg.image_size if isinstance(cfg.image_size, int) else cfg.image_size[0]
    assert str(size) in osp.basename(path)  # the name's resolution (e.g. coco-896) is the one used
