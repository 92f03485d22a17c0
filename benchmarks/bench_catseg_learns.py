"""Does the Cat-Seg head learn? The tiny config trained on seen classes vs the training-free segmentor.

Generated 64 px scenes (``refclip_mm.datasets.synthetic``: 4 stuff + 20 thing classes). The
5 ``NOVEL_THING_CLASSES`` (every shape in the held-out colour) are *unseen*: the training set's
``metainfo`` drops them, so their pixels are ignored in training. For each seed a tiny random
CLIP (``save_tiny_clip(seed)``) and its text embeddings ('a photo of a {}.') are made; then

* the training-free segmentor (``configs/catseg/trainingfree_clip-tiny_synthetic-64.py``) on that
  tower, and
* the tiny Cat-Seg config (``configs/catseg/catseg_clip-tiny_1xb4-20i_synthetic-64.py``) trained
  ``--iters`` iterations on the seen classes from that tower (training seed = the seed)

are tested with mmseg's ``IoUMetric`` on the val split twice: with the 19 seen classes as the
vocabulary (unseen pixels ignored) and with the 5 unseen classes as the vocabulary (seen pixels
ignored, the open-vocabulary protocol). Chance is the expected mIoU of uniformly random labels
over the vocabulary, from the val label counts. Also printed: the mean pairwise cosine of the
class text embeddings and the training loss at the first and the last iterations against
ln(number of training classes), the loss of uniform class scores. Two probes of why a random
tower starts at exactly that loss: the initial loss (iteration 1, before any update) with the
tower's text embeddings and with random Gaussian unit vectors (mean cosine ~0) as the class
embeddings, and the mean pairwise cosine of the 171 COCO-Stuff class embeddings of a random
full-size ViT-B/16 text tower.

    PYTHONPATH=. python benchmarks/bench_catseg_learns.py                  # 300 iterations, seeds 0-4
    PYTHONPATH=. python benchmarks/bench_catseg_learns.py --iters 100 --seeds 0
"""
import argparse
import logging
import math
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

CATSEG = osp.join(REPO, 'configs', 'catseg', 'catseg_clip-tiny_1xb4-20i_synthetic-64.py')
TRAINING_FREE = osp.join(REPO, 'configs', 'catseg', 'trainingfree_clip-tiny_synthetic-64.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--train-images', type=int, default=200)
    parser.add_argument('--val-images', type=int, default=60)
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--work-dir', default=None, help='default: a temporary folder')
    return parser.parse_args(argv)


def vocabularies():
    from refclip_mm.datasets.synthetic import NOVEL_THING_CLASSES, SEMANTIC_CLASSES
    unseen = list(NOVEL_THING_CLASSES)
    return dict(seen=[c for c in SEMANTIC_CLASSES if c not in unseen], unseen=unseen)


def chance_miou(root: str, classes) -> float:
    """Expected mIoU (percent) of uniformly random labels over ``classes`` on the val maps."""
    from PIL import Image

    from refclip_mm.datasets.synthetic import SEMANTIC_CLASSES
    ids = [SEMANTIC_CLASSES.index(c) for c in classes]
    counts = np.zeros(len(SEMANTIC_CLASSES) + 1)
    folder = osp.join(root, 'semantic', 'val')
    for name in sorted(os.listdir(folder)):
        seg = np.asarray(Image.open(osp.join(folder, name))).astype(np.int64)
        counts += np.bincount(np.minimum(seg.ravel(), len(SEMANTIC_CLASSES)),
                              minlength=len(SEMANTIC_CLASSES) + 1)
    n = counts[ids]
    total, t = n.sum(), len(ids)
    present = n > 0
    iou = (n / t) / (n + total / t - n / t)
    return float(100 * iou[present].mean())


def _data(cfg, root: str, loaders, classes) -> None:
    for name in loaders:
        loader = cfg.get(name)
        if loader:
            loader.dataset.data_root = root
            loader.dataset.metainfo = dict(classes=list(classes))


def _quiet(cfg, work_dir: str) -> None:
    cfg.work_dir = work_dir
    cfg.log_level = 'ERROR'
    cfg.default_hooks = cfg.get('default_hooks') or {}
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)


def test_miou(config: str, root: str, weights: str, embeddings: str, classes, work_dir: str,
              checkpoint=None) -> float:
    """mIoU of ``config`` (tower ``weights``, optional trained ``checkpoint``) on val with ``classes``."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    _quiet(cfg, work_dir)
    cfg.model.backbone.pretrained = weights
    head = cfg.model.decode_head
    head.test_class_embeddings = embeddings
    if 'class_embeddings' in head:
        head.class_embeddings = embeddings
    cfg.train_dataloader = cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.train_cfg = cfg.optim_wrapper = cfg.param_scheduler = None
    _data(cfg, root, ('test_dataloader', ), classes)
    cfg.load_from = checkpoint
    return float(Runner.from_cfg(cfg).test()['mIoU'])


def train(root: str, weights: str, embeddings: str, classes, iters: int, seed: int, work_dir: str):
    """Train the tiny Cat-Seg on ``classes``; returns (checkpoint, per-iteration losses)."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(CATSEG)
    _quiet(cfg, work_dir)
    cfg.model.backbone.pretrained = weights
    cfg.model.decode_head.class_embeddings = embeddings
    _data(cfg, root, ('train_dataloader', 'val_dataloader', 'test_dataloader'), classes)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iters,
                                        max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(iters // 5, 1),
                                    log_metric_by_epoch=False)
    cfg.randomness = dict(seed=seed)
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = [float(v) for v in runner.message_hub.get_scalar('train/loss').data[0]]
    return osp.join(work_dir, f'iter_{iters}.pth'), losses


def gaussian_embeddings(path: str, like, seed: int) -> None:
    """An embedding file with ``like``'s names and random unit vectors (mean cosine ~0)."""
    from refclip_mm.clip import ClassEmbeddings, save_class_embeddings
    gen = torch.Generator().manual_seed(seed)
    emb = torch.nn.functional.normalize(torch.randn(like.embeddings.shape, generator=gen), dim=-1)
    save_class_embeddings(path, ClassEmbeddings(list(like.names), emb, like.background,
                                                like.templates, 'gaussian'))


def full_size_text_cosine() -> float:
    """Mean pairwise cosine of COCO-Stuff-171 embeddings from a random ViT-B/16 text tower."""
    from refclip_mm.clip import build_class_embeddings, build_text_tower, get_class_names
    torch.manual_seed(0)
    tower = build_text_tower('ViT-B-16')
    return mean_pairwise_cosine(build_class_embeddings(tower, get_class_names('coco_stuff164k'),
                                                       'single'))


def mean_pairwise_cosine(emb: torch.Tensor) -> float:
    sims = emb @ emb.t()
    n = len(emb)
    return float((sims.sum() - sims.diagonal().sum()) / (n * (n - 1)))


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.getLogger('mmengine').setLevel(logging.WARNING)
    from refclip_mm.clip import (build_text_tower, make_class_embeddings, save_class_embeddings,
                                 save_tiny_clip, tiny_arch)
    from refclip_mm.datasets.synthetic import SEMANTIC_CLASSES, write_dataset
    vocab = vocabularies()
    work = args.work_dir or tempfile.mkdtemp(prefix='bench_catseg_learns_')
    root = osp.join(work, 'data')
    write_dataset(root, dict(train=args.train_images, val=args.val_images), seed=0)
    chance = {k: chance_miou(root, v) for k, v in vocab.items()}
    print(f'data: {args.train_images} train / {args.val_images} val images of 64 px; seen '
          f'{len(vocab["seen"])} classes, unseen {len(vocab["unseen"])} ({", ".join(vocab["unseen"])})')
    print(f'chance mIoU (uniform labels): seen {chance["seen"]:.2f}, unseen {chance["unseen"]:.2f}')
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        sdir = osp.join(work, f'seed{seed}')
        weights = osp.join(sdir, 'tiny_clip.pth')
        os.makedirs(sdir, exist_ok=True)
        save_tiny_clip(weights, 'openai', seed=seed)
        text = build_text_tower(tiny_arch('openai'), weights)
        emb = make_class_embeddings(text, list(SEMANTIC_CLASSES), templates='single', model='tiny')
        embeddings = osp.join(sdir, 'text.pth')
        save_class_embeddings(embeddings, emb)
        row = dict(seed=seed, cos=mean_pairwise_cosine(emb.embeddings))
        gaussian = osp.join(sdir, 'gaussian.pth')
        gaussian_embeddings(gaussian, emb, seed)
        _, probe = train(root, weights, gaussian, vocab['seen'], 2, seed, osp.join(sdir, 'probe'))
        row['loss0_gaussian'] = probe[0]
        for split, classes in vocab.items():
            row[f'free_{split}'] = test_miou(TRAINING_FREE, root, weights, embeddings, classes,
                                             osp.join(sdir, f'free_{split}'))
        checkpoint, losses = train(root, weights, embeddings, vocab['seen'], args.iters, seed,
                                   osp.join(sdir, 'train'))
        for split, classes in vocab.items():
            row[f'catseg_{split}'] = test_miou(CATSEG, root, weights, embeddings, classes,
                                               osp.join(sdir, f'catseg_{split}'), checkpoint)
        k = max(len(losses) // 10, 1)
        row.update(loss0=losses[0], loss_first=statistics.mean(losses[:k]),
                   loss_last=statistics.mean(losses[-k:]), seconds=time.perf_counter() - start)
        rows.append(row)
        print(f'seed {seed}: ' + ', '.join(f'{key} {value:.3f}' for key, value in row.items()
                                           if key != 'seed'), flush=True)

    print(f'\n{args.iters} iterations, batch 4; mIoU in percent; ln({len(vocab["seen"])}) = '
          f'{math.log(len(vocab["seen"])):.3f}; loss = mean of the first / last 10% of iterations')
    print('| seed | training-free seen | Cat-Seg seen | training-free unseen | Cat-Seg unseen | '
          'loss first -> last | text cos |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["seed"]} | {r["free_seen"]:.1f} | {r["catseg_seen"]:.1f} | {r["free_unseen"]:.1f} '
              f'| {r["catseg_unseen"]:.1f} | {r["loss_first"]:.3f} -> {r["loss_last"]:.3f} | '
              f'{r["cos"]:.3f} |')
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != 'seed'}
    print(f'| median | {med["free_seen"]:.1f} | {med["catseg_seen"]:.1f} | {med["free_unseen"]:.1f} '
          f'| {med["catseg_unseen"]:.1f} | {med["loss_first"]:.3f} -> {med["loss_last"]:.3f} | '
          f'{med["cos"]:.3f} |')
    print(f'| chance | {chance["seen"]:.1f} | {chance["seen"]:.1f} | {chance["unseen"]:.1f} | '
          f'{chance["unseen"]:.1f} | | |')
    print(f'Cat-Seg / training-free on seen classes (median): '
          f'{med["catseg_seen"] / max(med["free_seen"], 1e-6):.2f}; Cat-Seg unseen / chance: '
          f'{med["catseg_unseen"] / chance["unseen"]:.2f}; {sum(r["seconds"] for r in rows):.0f} s')
    big = full_size_text_cosine()
    print(f'initial loss (iteration 1, median): tower text embeddings {med["loss0"]:.4f}, Gaussian '
          f'class embeddings {med["loss0_gaussian"]:.4f}, ln({len(vocab["seen"])}) = '
          f'{math.log(len(vocab["seen"])):.4f}; mean text cosine: tiny tower {med["cos"]:.3f}, '
          f'random ViT-B/16 over COCO-Stuff-171 {big:.3f}')
    return rows, chance


if __name__ == '__main__':
    main()
