"""Pictures of dense features: PCA -> RGB, k-means cluster maps, point correlation maps.

:func:`make_panel` lays out one image against several towers::

                 | image            | tower 1  | tower 2  | ...
    row 0 (PCA)  | the image        | PCA->RGB | PCA->RGB |
    row 1 (k-m)  | labels or image  | clusters | clusters |
    row 2 (corr) | image + point    | cos map  | cos map  |

Every cell is ``cell x cell`` pixels (images are shown resized to a square,
as the tools feed them to the towers); :func:`panel_size` gives the size.
Cluster colours of every tower are matched (Hungarian on pixel overlap) to the
first tower's, so equal colours mean corresponding clusters.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .kmeans import spherical_kmeans
from .unsupervised_seg import hungarian_match

HEADER = 18   # pixels of the title strip
GAP = 2       # pixels between cells
ROWS = ('PCA', 'k-means', 'correlation')


def panel_size(num_towers: int, cell: int) -> Tuple[int, int]:
    """``(height, width)`` of a :func:`make_panel` picture."""
    width = GAP + (num_towers + 1) * (cell + GAP)
    height = HEADER + GAP + len(ROWS) * (cell + GAP)
    return height, width


def _check(feats: torch.Tensor) -> torch.Tensor:
    if not isinstance(feats, torch.Tensor) or feats.dim() != 3:
        got = tuple(feats.shape) if isinstance(feats, torch.Tensor) else type(feats).__name__
        raise ValueError(f'dense features must be a D x h x w tensor, got {got}')
    return feats.detach().float().cpu()


def pca_rgb(feats: torch.Tensor) -> np.ndarray:
    """First three principal components of the tokens as colours: ``D x h x w`` -> ``h x w x 3`` uint8.

    Tokens are L2-normalised and centred; each component's sign is fixed so its
    largest loading is positive, and it is scaled to its 1st-99th percentile.
    """
    feats = _check(feats)
    d, h, w = feats.shape
    x = F.normalize(feats.flatten(1).T, dim=1)
    x = x - x.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    comps = vh[:3]
    sign = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))
    proj = x @ (comps * sign).T                                  # N x (<=3)
    if proj.shape[1] < 3:
        proj = torch.cat([proj, proj.new_zeros(proj.shape[0], 3 - proj.shape[1])], dim=1)
    low = torch.quantile(proj, 0.01, dim=0)
    high = torch.quantile(proj, 0.99, dim=0)
    rgb = ((proj - low) / (high - low).clamp_min(1e-6)).clamp(0, 1)
    return (rgb.reshape(h, w, 3).numpy() * 255).round().astype(np.uint8)


def kmeans_map(feats: torch.Tensor, num_clusters: int = 8, seed: int = 0) -> np.ndarray:
    """Cosine k-means of one image's tokens: ``D x h x w`` -> ``h x w`` cluster indices."""
    feats = _check(feats)
    tokens = feats.flatten(1).T
    k = min(num_clusters, tokens.shape[0])
    fit = spherical_kmeans(tokens, k, seed=seed)
    return fit.labels.reshape(feats.shape[1:]).numpy()


def correlation_map(feats: torch.Tensor, point: Tuple[float, float]) -> np.ndarray:
    """Cosine similarity of every token to the token at ``point``: ``D x h x w`` -> ``h x w``.

    Args:
        point: ``(y, x)`` as fractions of the image height and width (0-1).
    """
    feats = _check(feats)
    ty, tx = token_index(point, feats.shape[1:])
    x = F.normalize(feats, dim=0)
    return torch.einsum('dhw,d->hw', x, x[:, ty, tx]).numpy()


def token_index(point: Tuple[float, float], grid: Sequence[int]) -> Tuple[int, int]:
    """Grid cell ``(row, col)`` containing the relative point ``(y, x)``."""
    fy, fx = point
    if not (0 <= fy <= 1 and 0 <= fx <= 1):
        raise ValueError(f'point {point} must be (y, x) fractions of the image size, in 0..1')
    return min(int(fy * grid[0]), grid[0] - 1), min(int(fx * grid[1]), grid[1] - 1)


def palette(num: int) -> np.ndarray:
    """``num x 3`` uint8 distinct colours (golden-ratio hues, fixed order)."""
    hues = (np.arange(num) * 0.618033988749895) % 1.0
    hsv = np.stack([hues * 179, np.full(num, 200), np.full(num, 230)], axis=1).astype(np.uint8)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]


def colorize_labels(labels: np.ndarray, num: Optional[int] = None,
                    ignore_index: Optional[int] = 255) -> np.ndarray:
    """``h x w`` integer labels -> ``h x w x 3`` uint8 (ignored pixels black)."""
    labels = np.asarray(labels).astype(np.int64)
    valid = labels != ignore_index if ignore_index is not None else np.ones_like(labels, bool)
    num = num or (int(labels[valid].max()) + 1 if valid.any() else 1)
    colours = palette(num)
    out = np.zeros(labels.shape + (3, ), np.uint8)
    out[valid] = colours[np.clip(labels[valid], 0, num - 1)]
    return out


def colorize_scalar(values: np.ndarray, vmin: Optional[float] = None,
                    vmax: Optional[float] = None) -> np.ndarray:
    """``h x w`` floats -> ``h x w x 3`` uint8 with the viridis colour map (min-max by default)."""
    values = np.asarray(values, np.float32)
    vmin = float(values.min()) if vmin is None else vmin
    vmax = float(values.max()) if vmax is None else vmax
    scaled = np.clip((values - vmin) / max(vmax - vmin, 1e-6), 0, 1)
    bgr = cv2.applyColorMap((scaled * 255).round().astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def align_labels(labels: np.ndarray, reference: np.ndarray, num: int) -> np.ndarray:
    """Renumber ``labels`` so clusters overlapping most with ``reference`` clusters share ids."""
    confusion = np.zeros((num, num), np.int64)
    np.add.at(confusion, (labels.ravel(), reference.ravel()), 1)
    mapping = hungarian_match(confusion)
    return mapping[labels]


def _resize(img: np.ndarray, cell: int, nearest: bool = False) -> np.ndarray:
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(img, (cell, cell), interpolation=interp)


def _mark(img: np.ndarray, point: Tuple[float, float]) -> np.ndarray:
    img = img.copy()
    y, x = int(point[0] * (img.shape[0] - 1)), int(point[1] * (img.shape[1] - 1))
    size = max(3, img.shape[0] // 20)
    cv2.drawMarker(img, (x, y), (0, 0, 0), cv2.MARKER_CROSS, size + 2, 3)
    cv2.drawMarker(img, (x, y), (255, 255, 255), cv2.MARKER_CROSS, size, 1)
    return img


TITLE_FONT = cv2.FONT_HERSHEY_SIMPLEX
TITLE_SCALES = (0.4, 0.35, 0.3)  # a long title is drawn smaller before it is cut


def fit_title(text: str, width: int) -> Tuple[str, float]:
    """``(text, font scale)`` of a column title that fits ``width`` pixels: the largest of
    :data:`TITLE_SCALES` at which the whole title fits, else the smallest, with the title cut
    to fit."""
    for scale in TITLE_SCALES:
        if cv2.getTextSize(text, TITLE_FONT, scale, 1)[0][0] <= width - 4:
            return text, scale
    scale = TITLE_SCALES[-1]
    while text and cv2.getTextSize(text, TITLE_FONT, scale, 1)[0][0] > width - 4:
        text = text[:-1]
    return text, scale


def _text(img: np.ndarray, text: str, origin: Tuple[int, int], width: int) -> None:
    text, scale = fit_title(text, width)
    cv2.putText(img, text, origin, TITLE_FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)


def make_panel(image: np.ndarray, dense: Sequence[torch.Tensor], names: Sequence[str],
               point: Tuple[float, float] = (0.5, 0.5), num_clusters: int = 8, cell: int = 160,
               seed: int = 0, labels: Optional[np.ndarray] = None) -> np.ndarray:
    """One picture comparing the dense maps of several towers on one image.

    Args:
        image: ``H x W x 3`` uint8 RGB.
        dense: per tower a ``D_t x h_t x w_t`` map of that image.
        names: column titles, one per tower.
        point: ``(y, x)`` fractions of the query point of the correlation row.
        num_clusters: ``k`` of the per-image k-means row.
        cell: side of every cell in pixels.
        labels: optional ``H x W`` ground truth shown in the first column.

    Returns:
        ``panel_size(len(dense), cell) + (3,)`` uint8 RGB.
    """
    if len(dense) != len(names):
        raise ValueError(f'got {len(dense)} dense maps but {len(names)} names')
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be H x W x 3 RGB, got shape {image.shape}')
    token_index(point, (1, 1))  # validates the point
    height, width = panel_size(len(dense), cell)
    panel = np.full((height, width, 3), 255, np.uint8)
    shown = _resize(image, cell)
    first = [shown, _resize(colorize_labels(labels), cell, True) if labels is not None else shown,
             _mark(shown, point)]
    columns: List[List[np.ndarray]] = [first]
    reference = None
    for feats in dense:
        clusters = _resize(kmeans_map(feats, num_clusters, seed).astype(np.uint8), cell, True)
        clusters = clusters.astype(np.int64)
        if reference is None:
            reference = clusters
        else:
            clusters = align_labels(clusters, reference, max(num_clusters, int(clusters.max()) + 1,
                                                             int(reference.max()) + 1))
        columns.append([_resize(pca_rgb(feats), cell),
                        colorize_labels(clusters, max(num_clusters, int(clusters.max()) + 1), None),
                        _mark(_resize(colorize_scalar(correlation_map(feats, point)), cell), point)])
    titles = ['image'] + list(names)
    for col, (cells, title) in enumerate(zip(columns, titles)):
        x0 = GAP + col * (cell + GAP)
        _text(panel, title, (x0 + 2, HEADER - 5), cell)
        for row, content in enumerate(cells):
            y0 = HEADER + GAP + row * (cell + GAP)
            panel[y0:y0 + cell, x0:x0 + cell] = content
    return panel


def stack_panels(panels: Sequence[np.ndarray]) -> np.ndarray:
    """Stack equally wide panels vertically (a white gap between them)."""
    if not panels:
        raise ValueError('no panels to stack')
    width = panels[0].shape[1]
    if any(p.shape[1] != width for p in panels):
        raise ValueError('panels must have the same width (same towers and cell size)')
    parts = []
    for index, panel in enumerate(panels):
        if index:
            parts.append(np.full((GAP * 2, width, 3), 255, np.uint8))
        parts.append(panel)
    return np.concatenate(parts, axis=0)


def save_png(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 image as PNG (folders created)."""
    import os
    import os.path as osp
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')


@torch.no_grad()
def tower_panels(towers: Sequence, image_paths: Sequence[str], img_size: int,
                 point: Tuple[float, float] = (0.5, 0.5), num_clusters: int = 8, cell: int = 224,
                 seed: int = 0, device: str = 'cpu',
                 labels_of: Optional[Callable[[str], np.ndarray]] = None) -> List[np.ndarray]:
    """One :func:`make_panel` per image for built towers (:class:`~.towers.DenseTower`).

    Each image is fed to every tower at ``img_size x img_size``; the panel shows the
    original image (and ``labels_of(path)`` when given).
    """
    from .towers import load_rgb, normalize_images, size_for
    for tower in towers:
        size_for(tower, img_size)
        tower.module.to(device)
    panels = []
    for path in image_paths:
        inputs = normalize_images(load_rgb(path, img_size)[None]).to(device)
        dense = [t.fn(inputs)[0].float().cpu() for t in towers]
        panels.append(make_panel(load_rgb(path), dense, [t.name for t in towers], point=point,
                                 num_clusters=num_clusters, cell=cell, seed=seed,
                                 labels=labels_of(path) if labels_of else None))
    return panels
