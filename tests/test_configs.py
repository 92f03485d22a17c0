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
    """3 methods x {RLA, SC, R-SC} x 5 towers (OpenAI's and EVA02's B/16 and L/14, SigLIP 2
    B/16), and {RLA, SC, R-SC} of CLIPSelf with grid boxes for the MetaCLIP towers."""
    names = {osp.basename(p) for p in STAGE2}
    expected = set()
    for variant in ('', '-sc', '-rsc'):
        for method in ('clipself-patches', 'clipself-proposals', 'regionclip'):
            for tower in ('vit-b16-openai', 'eva02-b16', 'vit-l14-openai', 'eva02-l14',
                          'vit-b16-siglip2-384'):
                size = 896 if 'l14' in tower else 1024
                expected.add(f'{method}{variant}_{tower}_8xb2-6e_coco-{size}.py')
        for tower, size in (('vit-b16-metaclip', 1024), ('vit-l14-metaclip', 896)):
            expected.add(f'clipself-patches{variant}_{tower}_8xb2-6e_coco-{size}.py')
    assert len(expected) == 51 and names == expected


# the towers besides OpenAI's and EVA02's: (name part, open_clip name, the configs it must have:
# stage 1, R-SC-RLA, and for SigLIP 2 the F-ViT and Cat-Seg ones)
OTHER_TOWERS = [
    ('vit-b16-siglip2-384', 'ViT-B-16-SigLIP2-384',
     ['refiner/refiner_vit-b16-siglip2-384_8xb2-2e_coco-448.py',
      'rla/clipself-patches-rsc_vit-b16-siglip2-384_8xb2-6e_coco-1024.py',
      'rla/clipself-proposals-rsc_vit-b16-siglip2-384_8xb2-6e_coco-1024.py',
      'rla/regionclip-rsc_vit-b16-siglip2-384_8xb2-6e_coco-1024.py',
      'fvit/fvit-faster-rcnn_vit-b16-siglip2-384_8xb8-3e_ov-coco-640.py',
      'fvit/fvit-mask-rcnn_vit-b16-siglip2-384_8xb8-48e_ov-lvis-1024.py',
      'catseg/catseg_vit-b16-siglip2-384_4xb1-80k_coco-stuff171-384.py']
     + [f'catseg/catseg_vit-b16-siglip2-384_4xb1-80k_coco-stuff171-384_test-{name}.py'
        for name in ('ade150', 'ade847', 'pc459', 'pc59', 'voc20', 'voc21')]),
    ('vit-b16-metaclip', 'ViT-B-16-quickgelu',
     ['refiner/refiner_vit-b16-metaclip_8xb2-2e_coco-448.py',
      'rla/clipself-patches-rsc_vit-b16-metaclip_8xb2-6e_coco-1024.py']),
    ('vit-l14-metaclip', 'ViT-L-14-quickgelu',
     ['refiner/refiner_vit-l14-metaclip_8xb2-2e_coco-448.py',
      'rla/clipself-patches-rsc_vit-l14-metaclip_8xb2-6e_coco-896.py']),
]


@pytest.mark.parametrize('tower, clip_model, configs', OTHER_TOWERS, ids=[t[0] for t in OTHER_TOWERS])
def test_the_configs_of_a_tower_name_one_open_clip_model_and_its_widths(tower, clip_model, configs):
    """Every config of a tower builds the same open_clip model (so the Refiner, the stage-2 tower
    and the detector / segmentor fit together), with the Refiner and the text side at its
    embed_dim and the necks at its width."""
    import open_clip
    import torch

    from refclip_mm.clip import build_image_tower
    assert clip_model in open_clip.list_models()
    with torch.device('meta'):  # the architecture only, no weights
        built = build_image_tower(clip_model)
    width, embed_dim = built.width, built.embed_dim
    named = sorted(glob.glob(osp.join(REPO, 'configs', '*', f'*_{tower}_*.py')))
    assert {osp.join(REPO, 'configs', c) for c in configs} <= set(named)
    for path in named:
        cfg = Config.fromfile(path)
        model = cfg.model.get('backbone', cfg.model)
        assert model.clip_model == clip_model, path
        hooks = [h for h in cfg.get('custom_hooks', []) if h.get('refiner_file')]
        assert all(osp.basename(h.refiner_file) == f'refiner_{tower}.pth' for h in hooks), path
        assert all(index < built.depth for index in model.get('out_indices', ())), path
        if cfg.model.type == 'RefinerTrainer':
            assert embed_dim % cfg.model.refiner.num_heads == 0
        if cfg.model.get('neck'):
            assert cfg.model.neck.in_channels == [width] * 4
        head = cfg.model.get('decode_head', {})
        if head:
            assert head.text_dim == embed_dim and head.guidance_channels == (width, width)


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
