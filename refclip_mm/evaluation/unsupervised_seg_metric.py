"""UnsupervisedSegMetric: dense-feature quality as an mmengine metric
(docs/method.md section 7)."""
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..registry import METRICS
from .unsupervised_seg import (UPSAMPLE_MODES, UnsupervisedSegResult, evaluate_dense_features,
                               format_per_class)


def _field(sample: Any, key: str) -> Any:
    """``sample[key]`` for dicts (what the Evaluator passes) or data elements; ``None`` if absent."""
    if isinstance(sample, dict):
        return sample.get(key)
    return getattr(sample, key, None)


def _unwrap(value: Any) -> Any:
    """A tensor stored directly or as ``PixelData`` / ``dict(data=...)``."""
    data = _field(value, 'data') if not isinstance(value, torch.Tensor) else None
    return value if data is None else data


@METRICS.register_module()
class UnsupervisedSegMetric(BaseMetric):
    """k-means + Hungarian unsupervised segmentation of dense features.

    Contract: every data sample reaching :meth:`process` carries

    * ``dense_feats``: the dense map ``D x h x w`` of the image (a tensor, or
      ``PixelData``), covering the image without padding;
      :class:`~refclip_mm.models.segmentors.DenseFeatureSegmentor` fills it for any
      tower inside an mmseg test loop;
    * ``gt_sem_seg``: mmseg's label map ``1 x H x W`` at full resolution.

    Features are kept at token resolution (``store_dtype``, fp16 by default)
    and labels at full resolution; all clustering happens in
    :meth:`compute_metrics` on the main process, after mmengine has gathered
    the results of every rank. The protocol is
    :func:`~refclip_mm.evaluation.unsupervised_seg.evaluate_dense_features`.

    Use it in any mmseg config::

        test_evaluator = dict(type='UnsupervisedSegMetric', seed=0)

    Args:
        num_classes: ``C``; default: the number of ``classes`` in the dataset meta.
        num_clusters: ``k`` (default ``C``).
        ignore_index: label value that is skipped.
        max_tokens: size of the token sample k-means is fitted on.
        upsample: ``'bilinear'`` or ``'nearest'`` (see ``cluster_label_map``).
        kmeans_iters / kmeans_tol / n_init: k-means options.
        seed: seeds the token sample and the k-means initialisation.
        feats_key: data-sample field holding the dense map.
        store_dtype: dtype the maps are kept in until the end (``'float16'``
            or ``'float32'``).
        log_per_class: log a per-class IoU table.
        collect_device / prefix: see :class:`mmengine.evaluator.BaseMetric`.

    Returns (from ``evaluate``): ``{prefix}/mIoU``, ``{prefix}/aAcc``,
    ``{prefix}/mAcc`` in percent. The full result of the last evaluation
    stays in :attr:`last_result`.
    """
    default_prefix = 'unsup'

    def __init__(self,
                 num_classes: Optional[int] = None,
                 num_clusters: Optional[int] = None,
                 ignore_index: int = 255,
                 max_tokens: int = 100_000,
                 upsample: str = 'bilinear',
                 kmeans_iters: int = 50,
                 kmeans_tol: float = 1e-4,
                 n_init: int = 3,
                 seed: int = 0,
                 feats_key: str = 'dense_feats',
                 store_dtype: str = 'float16',
                 log_per_class: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f'unknown upsample mode {upsample!r}; choose one of {UPSAMPLE_MODES}')
        if store_dtype not in ('float16', 'float32'):
            raise ValueError(f"store_dtype must be 'float16' or 'float32', got {store_dtype!r}")
        if max_tokens < 1:
            raise ValueError(f'max_tokens must be positive, got {max_tokens}')
        self.num_classes = num_classes
        self.num_clusters = num_clusters
        self.ignore_index = ignore_index
        self.max_tokens = max_tokens
        self.upsample = upsample
        self.kmeans_iters = kmeans_iters
        self.kmeans_tol = kmeans_tol
        self.n_init = n_init
        self.seed = seed
        self.feats_key = feats_key
        self.store_dtype = getattr(torch, store_dtype)
        self.log_per_class = log_per_class
        self.last_result: Optional[UnsupervisedSegResult] = None

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep ``(D x h x w features, H x W labels, name)`` of every sample."""
        for index, sample in enumerate(data_samples):
            name = _field(sample, 'img_path') or f'sample {len(self.results) + 1}'
            feats = _field(sample, self.feats_key)
            if feats is None:
                raise KeyError(
                    f'{name} has no {self.feats_key!r} field: UnsupervisedSegMetric needs the dense '
                    'map of each image in its data sample; test with model=dict('
                    "type='DenseFeatureSegmentor', tower=...) or set feats_key")
            gt = _field(sample, 'gt_sem_seg')
            if gt is None:
                raise KeyError(f'{name} has no gt_sem_seg: add LoadAnnotations to the test pipeline')
            feats, labels = _unwrap(feats), _unwrap(gt)
            if not isinstance(feats, torch.Tensor) or feats.dim() != 3:
                got = tuple(feats.shape) if isinstance(feats, torch.Tensor) else type(feats).__name__
                raise ValueError(f'{self.feats_key} of {name} must be a D x h x w tensor, got {got}')
            labels = torch.as_tensor(labels)
            if labels.dim() == 3:
                labels = labels[0]
            self.results.append(dict(feats=feats.detach().to('cpu', self.store_dtype),
                                     labels=labels.detach().cpu().to(torch.int16), name=name))

    def _num_classes(self) -> int:
        if self.num_classes is not None:
            return int(self.num_classes)
        classes = (self.dataset_meta or {}).get('classes')
        if not classes:
            raise ValueError('UnsupervisedSegMetric needs num_classes, or a dataset whose metainfo '
                             'has classes')
        return len(classes)

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str, float]:
        """Cluster, match and score all gathered samples."""
        num_classes = self._num_classes()
        print_log(f'UnsupervisedSegMetric: clustering the dense tokens of {len(results)} images '
                  f'into {self.num_clusters or num_classes} clusters', logger='current')
        result = evaluate_dense_features(
            [r['feats'] for r in results], [r['labels'] for r in results], num_classes,
            num_clusters=self.num_clusters, ignore_index=self.ignore_index,
            max_tokens=self.max_tokens, upsample=self.upsample, kmeans_iters=self.kmeans_iters,
            kmeans_tol=self.kmeans_tol, n_init=self.n_init, seed=self.seed,
            names=[r['name'] for r in results])
        self.last_result = result
        if self.log_per_class:
            classes = (self.dataset_meta or {}).get('classes')
            if classes is not None and len(classes) != num_classes:
                classes = None
            print_log('\n' + '\n'.join(format_per_class(result, classes)), logger='current')
        timing = ', '.join(f'{k} {v:.2f} s' for k, v in result.timings.items())
        print_log(f'unsupervised segmentation: mIoU {result.miou:.2f}, aAcc {result.pixel_acc:.2f}, '
                  f'mAcc {result.mean_acc:.2f} ({result.num_images} images, {result.num_sampled}/'
                  f'{result.num_tokens} tokens clustered; {timing})', logger='current')
        return result.as_dict()
