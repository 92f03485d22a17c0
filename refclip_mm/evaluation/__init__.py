"""Dense-feature quality (METHOD.md section 7): unsupervised-segmentation metric,
the mmseg evaluation model that feeds it, and pictures of dense features."""
from .dense_segmentor import DenseFeatureSegmentor, crop_padding
from .dense_source import check_dense, dense_fn, find_dense_fn, resolve_attr
from .dense_visualization import (correlation_map, kmeans_map, make_panel, panel_size, pca_rgb,
                                  save_png, stack_panels)
from .kmeans import KMeansResult, assign_clusters, spherical_kmeans
from .towers import (DenseTower, TowerSpec, build_dense_tower, load_rgb, normalize_images,
                     parse_tower)
from .unsupervised_seg import (UnsupervisedSegResult, evaluate_dense_features, hungarian_match,
                               scores_from_confusion)
from .unsupervised_seg_metric import UnsupervisedSegMetric

__all__ = [
    'DenseFeatureSegmentor', 'crop_padding', 'check_dense', 'dense_fn', 'find_dense_fn',
    'resolve_attr', 'correlation_map', 'kmeans_map', 'make_panel', 'panel_size', 'pca_rgb',
    'save_png', 'stack_panels', 'KMeansResult', 'assign_clusters', 'spherical_kmeans',
    'DenseTower', 'TowerSpec', 'build_dense_tower', 'load_rgb', 'normalize_images', 'parse_tower',
    'UnsupervisedSegResult', 'evaluate_dense_features', 'hungarian_match',
    'scores_from_confusion', 'UnsupervisedSegMetric'
]
