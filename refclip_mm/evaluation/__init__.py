"""Dense-feature quality (docs/method.md section 7): unsupervised segmentation (over k-means
restarts) and its mmseg metric, linear probe, locality index, pictures of dense features, the
Refiner's target view applied to a whole image (``zoomed_windows``), and the pre-registered
decision rule for paired differences over seeds.

The mmseg model that feeds the metric is ``refclip_mm.models.segmentors.DenseFeatureSegmentor``;
the rule that finds a module's dense map is :mod:`refclip_mm.models.dense_source`, whose
functions are also importable from here."""
from ..models.dense_source import check_dense, dense_fn, find_dense_fn, resolve_attr
from .decision import Decision, decide, detectable_effect, seeds_needed, t_interval
from .dense_visualization import (correlation_map, kmeans_map, make_panel, panel_size, pca_rgb,
                                  save_png, stack_panels)
from .kmeans import KMeansResult, assign_clusters, spherical_kmeans
from .linear_probe import LinearProbeResult, linear_probe_segmentation
from .locality import LocalityResult, locality_index, paste_pairs, tower_locality
from .towers import (DenseTower, TowerSpec, build_dense_tower, load_rgb, normalize_images,
                     parse_tower)
from .unsupervised_seg import (RestartsResult, UnsupervisedSegResult, evaluate_dense_features,
                               evaluate_over_restarts, hungarian_match, scores_from_confusion)
from .unsupervised_seg_metric import UnsupervisedSegMetric
from .zoomed_windows import zoomed_windows

__all__ = [
    'Decision', 'decide', 'detectable_effect', 'seeds_needed', 't_interval', 'LinearProbeResult',
    'linear_probe_segmentation', 'LocalityResult', 'locality_index', 'paste_pairs',
    'tower_locality', 'RestartsResult', 'evaluate_over_restarts',
    'check_dense', 'dense_fn', 'find_dense_fn',
    'resolve_attr', 'correlation_map', 'kmeans_map', 'make_panel', 'panel_size', 'pca_rgb',
    'save_png', 'stack_panels', 'KMeansResult', 'assign_clusters', 'spherical_kmeans',
    'DenseTower', 'TowerSpec', 'build_dense_tower', 'load_rgb', 'normalize_images', 'parse_tower',
    'UnsupervisedSegResult', 'evaluate_dense_features', 'hungarian_match',
    'scores_from_confusion', 'UnsupervisedSegMetric', 'zoomed_windows'
]
