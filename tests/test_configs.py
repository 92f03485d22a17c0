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
        assert (hook.refiner is not None) == ('-rsc_' in name)
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
