"""Unsupervised segmentation of dense features (docs/method.md section 7).

Protocol of :func:`evaluate_dense_features`:

1. L2-normalise every token; draw a seeded uniform sample of at most
   ``max_tokens`` tokens over the whole dataset;
2. cosine k-means on the sample (``k`` = number of classes by default);
3. for every image, cosine similarity of all its tokens to the ``k`` centres
   (``k x h x w``), upsampled to the label resolution (``bilinear`` on the
   similarities then argmax, or ``nearest`` on the cluster indices);
4. accumulate a ``k x C`` confusion matrix (pixels with ``ignore_index`` skipped);
5. Hungarian matching of clusters to classes on the whole-dataset matrix
   (maximising matched pixels), then per-class IoU, mIoU over the classes
   present in the labels, mean class accuracy and pixel accuracy.
"""
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from .kmeans import assign_clusters, spherical_kmeans

UPSAMPLE_MODES = ('bilinear', 'nearest')
LabelType = Union[np.ndarray, torch.Tensor]


@dataclass
class UnsupervisedSegResult:
    """Scores of one evaluation (percentages are 0-100).

    Attributes:
        miou: mean IoU over classes present in the labels.
        pixel_acc: matched pixels / labelled pixels.
        mean_acc: mean per-class recall over present classes.
        per_class_iou: ``C`` IoUs in percent (NaN for classes absent from the labels).
        confusion: ``k x C`` pixel counts (cluster, class).
        mapping: ``k`` class index per cluster (``-1``: unmatched cluster).
        num_images / num_tokens / num_sampled: dataset and sample sizes.
        timings: seconds spent in ``sample``, ``kmeans``, ``assign`` (assignment,
            upsampling and counting) and ``match``.
    """
    miou: float
    pixel_acc: float
    mean_acc: float
    per_class_iou: np.ndarray
    confusion: np.ndarray
    mapping: np.ndarray
    num_images: int
    num_tokens: int
    num_sampled: int
    timings: Dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, float]:
        """The headline numbers: ``mIoU``, ``aAcc``, ``mAcc`` (percent)."""
        return dict(mIoU=self.miou, aAcc=self.pixel_acc, mAcc=self.mean_acc)


def hungarian_match(confusion: np.ndarray) -> np.ndarray:
    """Match clusters (rows) to classes (columns) maximising the matched pixel count.

    Args:
        confusion: ``k x C`` counts.

    Returns:
        ``k`` int array: the class of every cluster, ``-1`` for clusters left
        unmatched when ``k > C``.
    """
    from scipy.optimize import linear_sum_assignment
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    mapping = np.full(confusion.shape[0], -1, dtype=np.int64)
    mapping[rows] = cols
    return mapping


def scores_from_confusion(confusion: np.ndarray, mapping: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-class IoU / recall and pixel accuracy of a cluster->class ``mapping``.

    Returns:
        dict with ``iou`` and ``acc`` (``C`` arrays, NaN where the class has
        no labelled pixel) and ``pixel_acc`` (scalar), all as fractions.
    """
    k, num_classes = confusion.shape
    confusion = confusion.astype(np.float64)
    matched = mapping >= 0
    pred = np.zeros((num_classes, num_classes))  # predicted class x true class
    np.add.at(pred, mapping[matched], confusion[matched])
    tp = np.diag(pred)
    gt = confusion.sum(axis=0)
    predicted = pred.sum(axis=1)
    union = gt + predicted - tp
    present = gt > 0
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(present, tp / np.maximum(union, 1), np.nan)
        acc = np.where(present, tp / np.maximum(gt, 1), np.nan)
    total = confusion.sum()
    return dict(iou=iou, acc=acc, pixel_acc=float(tp.sum() / total) if total else float('nan'))


def percent_scores(scores: Dict[str, np.ndarray]) -> Dict[str, object]:
    """``miou``, ``pixel_acc``, ``mean_acc`` (percent; NaN without labelled classes) and
    ``per_class_iou`` (percent) of :func:`scores_from_confusion`'s output."""
    iou, acc = scores['iou'] * 100, scores['acc'] * 100
    return dict(miou=float(np.nanmean(iou)) if np.isfinite(iou).any() else float('nan'),
                pixel_acc=scores['pixel_acc'] * 100,
                mean_acc=float(np.nanmean(acc)) if np.isfinite(acc).any() else float('nan'),
                per_class_iou=iou)


def _check_labels(labels: torch.Tensor, num_classes: int, ignore_index: int, name: str) -> None:
    valid = labels[labels != ignore_index]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= num_classes):
        bad = int(valid.max()) if int(valid.max()) >= num_classes else int(valid.min())
        raise ValueError(f'label map of {name} contains class {bad}, outside 0..{num_classes - 1} '
                         f'(ignore_index={ignore_index}): check num_classes, reduce_zero_label or '
                         'the label mapping of the dataset')


def _check_feats(feats: torch.Tensor, dim: Optional[int], name: str) -> None:
    if not isinstance(feats, torch.Tensor) or feats.dim() != 3:
        shape = tuple(feats.shape) if isinstance(feats, torch.Tensor) else type(feats).__name__
        raise ValueError(f'dense features of {name} must be a D x h x w tensor, got {shape}')
    if dim is not None and feats.shape[0] != dim:
        raise ValueError(f'dense features of {name} have {feats.shape[0]} channels but earlier '
                         f'images had {dim}: one evaluation must use one tower')


def sample_tokens(feats: Sequence[torch.Tensor], max_tokens: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Seeded uniform sample of at most ``max_tokens`` tokens over all maps -> ``M x D`` float32."""
    counts = torch.tensor([f.shape[1] * f.shape[2] for f in feats])
    total = int(counts.sum())
    if total <= max_tokens:
        picked = torch.arange(total)
    else:
        picked = torch.randperm(total, generator=generator)[:max_tokens].sort().values
    offsets = torch.cumsum(counts, 0) - counts
    owner = torch.searchsorted(torch.cumsum(counts, 0), picked, right=True)
    rows = []
    for image in torch.unique(owner).tolist():
        local = picked[owner == image] - offsets[image]
        rows.append(feats[image].flatten(1)[:, local].T.float())
    return torch.cat(rows)


def cluster_label_map(feats: torch.Tensor, centers: torch.Tensor, size: Sequence[int],
                      upsample: str = 'bilinear', max_elements: int = 1 << 25) -> torch.Tensor:
    """Cluster index of every label pixel: ``D x h x w`` features -> ``H x W`` long.

    ``bilinear`` interpolates the ``k x h x w`` cosine similarities to ``H x W``
    (``align_corners=False``) and takes the argmax, in chunks of clusters so at
    most ``max_elements`` floats are upsampled at once; ``nearest`` upsamples
    the token-level argmax.
    """
    if upsample not in UPSAMPLE_MODES:
        raise ValueError(f'unknown upsample mode {upsample!r}; choose one of {UPSAMPLE_MODES}')
    sim = assign_clusters(feats.flatten(1).T, centers).T.reshape(-1, *feats.shape[1:])
    size = tuple(int(s) for s in size)
    if upsample == 'nearest':
        index = sim.argmax(0)[None, None].float()
        return F.interpolate(index, size=size, mode='nearest')[0, 0].long()
    step = max(1, max_elements // max(1, size[0] * size[1]))
    best_value = best_index = None
    for start in range(0, sim.shape[0], step):
        up = F.interpolate(sim[None, start:start + step], size=size, mode='bilinear',
                           align_corners=False)[0]
        value, index = up.max(0)
        index += start
        if best_value is None:
            best_value, best_index = value, index
        else:
            better = value > best_value
            best_value = torch.where(better, value, best_value)
            best_index = torch.where(better, index, best_index)
    return best_index


def evaluate_dense_features(feats: Sequence[torch.Tensor], labels: Sequence[LabelType],
                            num_classes: int, num_clusters: Optional[int] = None,
                            ignore_index: int = 255, max_tokens: int = 100_000,
                            upsample: str = 'bilinear', kmeans_iters: int = 50,
                            kmeans_tol: float = 1e-4, n_init: int = 3, seed: int = 0,
                            names: Optional[Sequence[str]] = None,
                            progress: Optional[Callable[[int], None]] = None
                            ) -> UnsupervisedSegResult:
    """Unsupervised segmentation scores of dense features (see the module docstring).

    Args:
        feats: per image a ``D x h_i x w_i`` map covering the whole image (any
            float dtype; fp16 storage is fine).
        labels: per image an ``H_i x W_i`` integer label map at full resolution
            (any sequence; each item is read once, so a lazy loader works).
        num_classes: ``C``; labels must be in ``0..C-1`` or ``ignore_index``.
        num_clusters: ``k`` (default ``C``); must be ``>= C`` so every class can
            be matched (extra clusters stay unmatched and count as errors).
        max_tokens: size of the token sample k-means is fitted on.
        upsample: ``bilinear`` (similarities) or ``nearest`` (cluster indices).
        seed: seeds the token sample and the k-means++ initialisation.
        names: per-image names used in error messages.
        progress: called with 1 after each image is assigned (for progress bars).

    Returns:
        :class:`UnsupervisedSegResult`.
    """
    if len(feats) != len(labels):
        raise ValueError(f'got {len(feats)} feature maps but {len(labels)} label maps')
    if not feats:
        raise ValueError('no images to evaluate')
    k = num_classes if num_clusters is None else num_clusters
    if k < num_classes:
        raise ValueError(f'num_clusters={k} is smaller than num_classes={num_classes}; Hungarian '
                         'matching needs at least one cluster per class')
    names = list(names) if names is not None else [f'image {i}' for i in range(len(feats))]
    dim = None
    for f, name in zip(feats, names):
        _check_feats(f, dim, name)
        dim = f.shape[0]
    timings = {}
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    sample = sample_tokens(feats, max_tokens, generator)
    timings['sample'] = time.perf_counter() - start
    if sample.shape[0] < k:
        raise ValueError(f'only {sample.shape[0]} tokens in the dataset, fewer than the {k} clusters')
    start = time.perf_counter()
    fit = spherical_kmeans(sample, k, num_iters=kmeans_iters, tol=kmeans_tol, n_init=n_init,
                           generator=generator)
    timings['kmeans'] = time.perf_counter() - start
    start = time.perf_counter()
    confusion = torch.zeros(k * num_classes, dtype=torch.int64)
    for f, lab, name in zip(feats, labels, names):
        lab = torch.as_tensor(np.asarray(lab) if not isinstance(lab, torch.Tensor) else lab)
        if lab.dim() != 2:
            raise ValueError(f'label map of {name} must be H x W, got shape {tuple(lab.shape)}')
        _check_labels(lab, num_classes, ignore_index, name)
        clusters = cluster_label_map(f, fit.centers, lab.shape, upsample)
        lab = lab.long()
        valid = lab != ignore_index
        confusion += torch.bincount(clusters[valid] * num_classes + lab[valid],
                                    minlength=k * num_classes)
        if progress is not None:
            progress(1)
    timings['assign'] = time.perf_counter() - start
    start = time.perf_counter()
    confusion = confusion.reshape(k, num_classes).numpy()
    mapping = hungarian_match(confusion)
    scores = scores_from_confusion(confusion, mapping)
    timings['match'] = time.perf_counter() - start
    return UnsupervisedSegResult(
        **percent_scores(scores), confusion=confusion, mapping=mapping, num_images=len(feats),
        num_tokens=int(sum(f.shape[1] * f.shape[2] for f in feats)),
        num_sampled=int(sample.shape[0]), timings=timings)


def format_per_class(result: UnsupervisedSegResult, class_names: Optional[Sequence[str]] = None
                     ) -> List[str]:
    """Lines of a per-class IoU table (classes absent from the labels are skipped)."""
    names = list(class_names) if class_names is not None else [
        str(i) for i in range(len(result.per_class_iou))]
    width = max([len('class')] + [len(n) for n in names])
    lines = [f'{"class":<{width}}  IoU']
    for name, value in zip(names, result.per_class_iou):
        if np.isfinite(value):
            lines.append(f'{name:<{width}}  {value:5.1f}')
    return lines


@dataclass
class RestartsResult:
    """Unsupervised segmentation over k-means restarts (seeds ``seed .. seed + n - 1``).

    Attributes:
        miou / miou_std: mean and standard deviation (``ddof=1``) of the restarts' mIoU.
        pixel_acc / mean_acc: means over the restarts.
        mious: every restart's mIoU.
        results: every restart's :class:`UnsupervisedSegResult`.
    """
    miou: float
    miou_std: float
    pixel_acc: float
    mean_acc: float
    mious: List[float]
    results: List[UnsupervisedSegResult]

    def as_dict(self) -> Dict[str, float]:
        return dict(mIoU=self.miou, mIoU_std=self.miou_std, aAcc=self.pixel_acc,
                    mAcc=self.mean_acc)


def evaluate_over_restarts(feats: Sequence[torch.Tensor], labels: Sequence[LabelType],
                           num_classes: int, restarts: int = 10, seed: int = 0,
                           **kwargs) -> RestartsResult:
    """:func:`evaluate_dense_features` with ``restarts`` seeds (token sample and k-means each).

    The k-means seed alone moves mIoU by a few points; the mean over restarts is the
    tower's score and the standard deviation its clustering noise. ``labels`` are
    read once and kept. Other arguments: as :func:`evaluate_dense_features`.
    """
    if restarts < 1:
        raise ValueError(f'restarts must be >= 1, got {restarts}')
    labels = [np.asarray(lab) if not isinstance(lab, torch.Tensor) else lab for lab in labels]
    results = [evaluate_dense_features(feats, labels, num_classes, seed=seed + r, **kwargs)
               for r in range(restarts)]
    mious = [r.miou for r in results]
    return RestartsResult(
        miou=float(np.mean(mious)), miou_std=float(np.std(mious, ddof=1)) if restarts > 1 else 0.0,
        pixel_acc=float(np.mean([r.pixel_acc for r in results])),
        mean_acc=float(np.mean([r.mean_acc for r in results])), mious=mious, results=results)
