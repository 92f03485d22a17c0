"""A SigLIP 2 image tower through the whole method, with mmengine's Runner on generated scenes and
the tiny SigLIP-2-shaped tower (no class token, attention-pool head; width = embed_dim = 32):

stage 1 (Refiner) and its export; stage 2, CLIPSelf with R-SC-RLA (the SCD hook's teacher: the
initial tower followed by that Refiner), RegionCLIP, and the conversion of the result into a tower
file; that tower in the F-ViT detector (train + test), the Cat-Seg-style segmentor (train + val)
and the training-free segmentor (test); the dense-quality benchmark and the dense-feature picture
of the initial and the fine-tuned tower. Class and concept embeddings are random unit rows of the
tower's embed_dim in the package's class-embedding format.
"""
import glob
import os.path as osp
import sys

import cv2
import factories
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from refclip_mm.clip import build_image_tower, tiny_arch
from refclip_mm.clip.dense import SigLIPViTTower
from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES, SEMANTIC_CLASSES, THING_CLASSES
from refclip_mm.utils.checkpoint import load_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')
sys.path.insert(0, osp.join(REPO, 'tools'))
from convert_checkpoint import main as convert  # noqa: E402
from export_refiner import main as export  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_torch_thread')

ARCH = tiny_arch('siglip2')
DIM = factories.TINY_EMBED_DIM  # the tiny SigLIP tower: width = embed_dim = 32


def tiny_config(name: str, work_dir, experiment: str) -> Config:
    """A shipped tiny config, its work dir and a run name of its own."""
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'siglip_{experiment}'
    return cfg


def logged(runner: Runner, key: str) -> list:
    return runner.message_hub.get_scalar(f'train/{key}').data[0].tolist()


@pytest.fixture(scope='module')
def assets(tmp_path_factory):
    """The initial tiny SigLIP 2 CLIP file; class-, segmentation- and concept-embedding files."""
    root = tmp_path_factory.mktemp('siglip_assets')
    paths = dict(clip=str(root / 'siglip2.pth'), det=str(root / 'det.pth'),
                 seg=str(root / 'seg.pth'), concepts=str(root / 'concepts.pth'))
    factories.tiny_clip_file(paths['clip'], 'siglip2')
    factories.class_embeddings_file(paths['det'], THING_CLASSES, seed=1)
    factories.class_embeddings_file(paths['seg'], SEMANTIC_CLASSES, seed=2)
    factories.class_embeddings_file(paths['concepts'], [f'concept {i}' for i in range(10)], seed=3)
    return paths


@pytest.fixture(scope='module')
def stage1(synthetic_root, assets, tmp_path_factory):
    """Stage 1 on the frozen SigLIP tower, 2 iterations, then tools/export_refiner.py."""
    work = tmp_path_factory.mktemp('siglip_stage1')
    cfg = tiny_config('refiner/refiner_clip-tiny_1xb4-40i_synthetic-64.py', work, 'stage1')
    cfg.model.clip_model = ARCH
    cfg.model.pretrained = assets['clip']
    cfg.train_dataloader.dataset.data_root = synthetic_root
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    before = runner.model.tower.checksum()
    runner.train()
    refiner_file = str(work / 'refiner.pth')
    meta = export([str(work / 'iter_2.pth'), refiner_file])
    return dict(runner=runner, work=str(work), before=before, refiner_file=refiner_file, meta=meta)


@pytest.fixture(scope='module')
def stage2(synthetic_root, assets, stage1, tmp_path_factory):
    """R-SC-RLA (CLIPSelf + SCD, the stage-1 Refiner in the teacher), 3 iterations, then
    tools/convert_checkpoint.py into a tower file."""
    work = tmp_path_factory.mktemp('siglip_stage2')
    cfg = tiny_config('rla/clipself-patches-rsc_clip-tiny_1xb4-20i_synthetic-64.py', work, 'stage2')
    cfg.model.clip_model = ARCH
    cfg.model.pretrained = assets['clip']
    cfg.custom_hooks[0].refiner_file = stage1['refiner_file']
    cfg.custom_hooks[0].agreement_interval = 1
    cfg.train_dataloader.dataset.data_root = synthetic_root
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.pipeline[2].max_split = 2
    cfg.train_cfg.max_iters = 3
    cfg.default_hooks.checkpoint.interval = 3
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    initial = runner.model.initial_tower.checksum()
    runner.train()
    tower_file = str(work / 'tower.pth')
    meta = convert([str(work / 'iter_3.pth'), tower_file])
    return dict(runner=runner, work=str(work), initial=initial, tower_file=tower_file, meta=meta)


# ------------------------------------------------------------------------------- stage 1
def test_stage1_trains_a_refiner_on_the_frozen_siglip_tower(stage1):
    runner = stage1['runner']
    assert isinstance(runner.model.tower.module, SigLIPViTTower)
    ckpt = load_checkpoint_file(osp.join(stage1['work'], 'iter_2.pth'))
    assert ckpt['state_dict'] and all(k.startswith('refiner.') for k in ckpt['state_dict'])
    assert runner.model.tower.checksum() == stage1['before']  # the tower never changes
    losses = logged(runner, 'loss_dense') + logged(runner, 'loss_scd')
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    meta = stage1['meta']
    assert meta['clip_model'] == ARCH and meta['clip_embed_dim'] == DIM
    assert meta['refiner_cfg']['dim'] == DIM and meta['token_space'] == 'projected'


@torch.no_grad()
def test_the_exported_refiner_in_a_refiner_backbone(stage1, assets):
    from refclip_mm.models.backbones import RefinerBackbone
    backbone = RefinerBackbone(clip_model=ARCH, pretrained=assets['clip'],
                               refiner_file=stage1['refiner_file'], out_indices=(1, )).eval()
    images = torch.randn(2, 3, 64, 48)
    *features, refined = backbone(images)
    assert features[0].shape == (2, DIM, 8, 6) and refined.shape == (2, DIM, 8, 6)
    trainer = stage1['runner'].model
    torch.testing.assert_close(refined, trainer.extract_dense(images))
    unrefined = build_image_tower(ARCH, assets['clip'])(images)
    assert (refined - unrefined).abs().max() > 1e-4  # the Refiner is not the identity


# ------------------------------------------------------------------------------- stage 2
def test_r_sc_rla_distils_from_the_refined_siglip_teacher(stage2, stage1):
    runner = stage2['runner']
    model = runner.model
    hook = next(h for h in runner.hooks if type(h).__name__ == 'SCDDistillHook')
    teacher = hook.term.teacher
    assert teacher.tower is model.initial_tower  # shared with CLIPSelf's targets
    exported = load_checkpoint_file(stage1['refiner_file'])['state_dict']
    for key, value in teacher.refiner.module.state_dict().items():
        assert torch.equal(value, exported[key]), key
    scd = logged(runner, 'loss_scd')
    assert len(scd) == 3 and all(value > 0 for value in scd)
    assert logged(runner, 'scd_weight') == pytest.approx([0.4] * 3)
    assert all(-1 <= value <= 1 for value in logged(runner, 'scd_agreement'))
    assert all(0 <= value for value in logged(runner, 'loss_clipself'))
    assert model.initial_tower.checksum() == stage2['initial']
    student = model.student.state_dict()
    initial = model.initial_tower.module.state_dict()
    qkv = 'visual.trunk.blocks.1.attn.qkv.weight'
    assert not torch.equal(student[qkv], initial[qkv])  # the blocks trained
    for key in student:  # the stem and the attention-pool head stay as they were
        if key.startswith(('visual.trunk.attn_pool.', 'visual.trunk.patch_embed.',
                           'visual.trunk.pos_embed', 'visual.trunk.norm.')):
            assert torch.equal(student[key], initial[key]), key


def test_the_converted_tower_describes_itself_and_loads_into_clipvit(stage2):
    from refclip_mm.models.backbones import CLIPViT
    meta = stage2['meta']
    assert meta['clip_model'] == ARCH and meta['embed_dim'] == DIM
    assert meta['method']['rla'] == 'CLIPSelf' and meta['method']['scd'] == 'R-SC-RLA'
    backbone = CLIPViT(pretrained=stage2['tower_file'], out_indices=(1, ))  # arch from the file
    assert isinstance(backbone.tower, SigLIPViTTower)
    student = stage2['runner'].model.student.state_dict()
    tower = backbone.tower.state_dict()
    assert tower.keys() == student.keys()
    for key, value in tower.items():
        assert torch.equal(value, student[key]), key


def test_the_averaged_open_clip_file_loads_in_open_clip(stage2, assets, tmp_path):
    """--format open_clip --alpha 0.7: open_clip's own loader reads it into a SigLIP 2 CLIP whose
    image tower is the average and whose text tower and logit bias are the initial ones."""
    import open_clip

    from refclip_mm.clip import make_tiny_clip
    out = str(tmp_path / 'open_clip.pth')
    convert([osp.join(stage2['work'], 'iter_3.pth'), out, '--format', 'open_clip', '--initial',
             assets['clip'], '--alpha', '0.7'])
    model = make_tiny_clip('siglip2', seed=5)
    open_clip.load_checkpoint(model, out, strict=True)
    initial = make_tiny_clip('siglip2', seed=0)  # the weights of assets['clip']
    torch.testing.assert_close(model.text.state_dict(), initial.text.state_dict(), rtol=0, atol=0)
    torch.testing.assert_close(model.logit_bias, initial.logit_bias, rtol=0, atol=0)
    student = stage2['runner'].model.student.state_dict()
    key = 'visual.trunk.blocks.1.attn.qkv.weight'
    torch.testing.assert_close(model.state_dict()[key],
                               0.7 * student[key] + 0.3 * initial.state_dict()[key])


def test_regionclip_labels_siglip_crops_with_concept_embeddings(synthetic_root, assets, tmp_path):
    cfg = tiny_config('rla/clipself-patches_clip-tiny_1xb4-20i_synthetic-64.py', tmp_path,
                      'regionclip')
    cfg.model.update(clip_model=ARCH, pretrained=assets['clip'], concepts=assets['concepts'],
                     loss_rla=dict(type='RegionCLIPLoss'))
    cfg.train_dataloader.dataset.data_root = synthetic_root
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.model.concept_names == [f'concept {i}' for i in range(10)]
    losses = logged(runner, 'loss_regionclip')
    assert len(losses) == 2 and all(0 < value < 20 for value in losses)
    qkv = 'visual.trunk.blocks.2.attn.qkv.weight'
    assert not torch.equal(runner.model.student.state_dict()[qkv],
                           runner.model.initial_tower.module.state_dict()[qkv])


# ------------------------------------------------------------------------------- detection
def test_fvit_trains_and_tests_on_the_fine_tuned_siglip_tower(
        synthetic_root, assets, stage2, tmp_path):
    cfg = tiny_config('fvit/fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py', tmp_path, 'fvit')
    cfg.model.backbone.clip_model = ARCH
    cfg.model.backbone.pretrained = stage2['tower_file']
    cfg.model.neck.in_channels = [DIM] * 3
    cfg.model.roi_head.bbox_head.class_embeddings = assets['det']
    root = synthetic_root.rstrip('/') + '/'
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.batch_size = 2
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = root
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = root + 'annotations/instances_val.json'
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.checkpoint.save_best = None
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.vis_backends = []
    runner = Runner.from_cfg(cfg)
    tower = runner.model.backbone.tower
    assert isinstance(tower, SigLIPViTTower)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith('roi_head.') for k in changed)
    assert not any(k.startswith('backbone.tower.') for k in changed)  # frozen_stages=3: frozen
    student = stage2['runner'].model.student.state_dict()
    key = 'visual.trunk.blocks.0.attn.qkv.weight'
    assert torch.equal(after['backbone.tower.' + key], student[key])  # the stage-2 tower
    metrics = runner.test()
    assert {'coco/base_ap50', 'coco/novel_ap50', 'coco/bbox_mAP_50'} <= set(metrics)
    assert all(-1 <= value <= 1 for value in metrics.values())
    assert sorted(runner.model.roi_head.bbox_head.novel_classes) == sorted(NOVEL_THING_CLASSES)


# ------------------------------------------------------------------------------- segmentation
def seg_config(name, synthetic_root, tmp_path, experiment):
    cfg = tiny_config(f'catseg/{name}', tmp_path, experiment)
    cfg.model.backbone.clip_model = ARCH
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            cfg[loader].dataset.data_root = synthetic_root
    return cfg


def test_catseg_trains_the_siglip_attention_and_validates(synthetic_root, assets, stage2, tmp_path):
    cfg = seg_config('catseg_clip-tiny_1xb4-20i_synthetic-64.py', synthetic_root, tmp_path, 'catseg')
    cfg.model.backbone.pretrained = stage2['tower_file']
    cfg.model.decode_head.update(guidance_channels=(DIM, DIM), class_embeddings=assets['seg'])
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.param_scheduler[0].end = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    metrics = runner.val_loop.run()
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics) and 0 <= metrics['mIoU'] <= 100
    after = runner.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith('decode_head.') for k in changed)
    tower = {k for k in changed if k.startswith('backbone.tower.')}
    # finetune='attention': the blocks' attention only (not the attention-pool head)
    assert tower and all('.blocks.' in k and '.attn.' in k for k in tower), sorted(tower)[:5]
    assert all(len(logged(runner, key)) == 2 for key in ('loss', 'decode.loss_ce'))


def test_training_free_segmentor_tests_the_siglip_dense_map(synthetic_root, assets, stage2, tmp_path):
    cfg = seg_config('trainingfree_clip-tiny_synthetic-64.py', synthetic_root, tmp_path, 'free')
    cfg.model.backbone.pretrained = stage2['tower_file']
    cfg.model.decode_head.update(text_dim=DIM, test_class_embeddings=assets['seg'])
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics) and all(v == v for v in metrics.values())
    assert runner.model.decode_head.num_classes == len(SEMANTIC_CLASSES)
    assert isinstance(runner.model.backbone.tower, SigLIPViTTower)
    assert not any(p.requires_grad for p in runner.model.parameters())


# ------------------------------------------------------------------------------- dense quality
def _tool(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dense_quality_of_the_initial_and_the_fine_tuned_tower(synthetic_root, assets, stage2,
                                                               tmp_path):
    from refclip_mm.evaluation import build_dense_tower, load_rgb, parse_tower
    from refclip_mm.evaluation.towers import extract_dense_maps
    towers = [f'initial=tiny-siglip2@{assets["clip"]}', f'r-sc-rla=tiny-siglip2@{stage2["tower_file"]}']
    args = ['--dataset', 'synthetic', '--data-root', synthetic_root, '--img-size', '64',
            '--out-dir', str(tmp_path), '--no-progress', '--locality-pairs', '2']
    rows = _tool('eval_dense_quality').main(args + [a for t in towers for a in ('--tower', t)])
    assert [r['tower'] for r in rows] == ['initial', 'r-sc-rla']
    assert all(0 <= r['mIoU'] <= 100 and r['tokens_per_image'] == 64 and r['images'] == 4
               and r['locality'] >= 0 for r in rows)
    # the benchmark reads each tower's own dense map (the value path through the attention-pool
    # head) of the images in SigLIP's normalisation (mean = std = 0.5)
    images = sorted(glob.glob(osp.join(synthetic_root, 'images', 'val', '*')))[:2]
    maps = {}
    for item in towers:
        tower = build_dense_tower(parse_tower(item))
        assert isinstance(tower.module, SigLIPViTTower)
        maps[tower.name] = extract_dense_maps(tower, images, 64, progress=False)[0]
        pixels = torch.from_numpy(np.stack([load_rgb(p, 64) for p in images])).permute(0, 3, 1, 2)
        with torch.no_grad():
            own = tower.module((pixels.float() / 255 - 0.5) / 0.5)
        torch.testing.assert_close(torch.stack(maps[tower.name]).float(), own, atol=2e-3, rtol=2e-3)
    assert maps['initial'][0].shape == (DIM, 8, 8)
    assert (maps['initial'][0].float() - maps['r-sc-rla'][0].float()).abs().max() > 1e-4


def test_siglip_normalisation_of_the_configs_is_the_towers():
    cfg = Config.fromfile(osp.join(CONFIGS, '_base_', 'siglip_normalization.py'))
    assert tuple(cfg.siglip_mean) == SigLIPViTTower.image_mean
    assert tuple(cfg.siglip_std) == SigLIPViTTower.image_std
    preprocessor = cfg.siglip_preprocessor
    assert (preprocessor.mean, preprocessor.std) == (cfg.siglip_mean, cfg.siglip_std)
    for path in glob.glob(osp.join(CONFIGS, '*', '*siglip2*.py')):
        model = Config.fromfile(path).model
        assert (model.data_preprocessor.mean, model.data_preprocessor.std) == (
            cfg.siglip_mean, cfg.siglip_std), path


def test_dense_feature_picture_of_siglip_towers(synthetic_root, assets, stage2, tmp_path):
    from refclip_mm.evaluation import panel_size
    images = sorted(glob.glob(osp.join(synthetic_root, 'images', 'val', '*.jpg')))[:2]
    written = _tool('visualize_dense').main(
        images + ['--tower', f'initial=tiny-siglip2@{assets["clip"]}', '--tower',
                  f'r-sc-rla=tiny-siglip2@{stage2["tower_file"]}', '--img-size', '64', '--cell',
                  '48', '--clusters', '4', '--out-dir', str(tmp_path)])
    assert len(written) == 2
    height, width = panel_size(2, 48)
    for path in written:
        picture = cv2.imread(path)
        assert picture.shape == (height, width, 3) and picture.std() > 0
