"""Side-by-side dense-feature quality of several towers on one labelled image folder.

What ``tools/eval_dense_quality.py`` and the demo run: per tower, dense maps of every image,
unsupervised segmentation over k-means restarts, optionally a linear probe (trained on
another labelled folder) and the locality index on copy-paste pairs; a table, a CSV and a
JSON report. With ``windows`` > 1 every tower is measured on zoomed windows
(:func:`~refclip_mm.evaluation.zoomed_windows`: the Refiner's training target, applied to the
whole image).
"""
import csv
import json
import os
import os.path as osp
import time
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .linear_probe import linear_probe_segmentation
from .locality import normalized_paste_pairs, tower_locality
from .seg_folder import SegFolder
from .towers import TowerSpec, build_dense_tower, extract_dense_maps, load_rgb
from .unsupervised_seg import evaluate_over_restarts
from .zoomed_windows import zoomed_windows

COLUMNS = ('tower', 'mIoU', 'aAcc', 'mAcc', 'images', 'tokens_per_image', 'forward_s',
           'cluster_s', 'cluster_vs_forward')
OPTIONAL_COLUMNS = ('probe_mIoU', 'locality')


@dataclass
class CompareOptions:
    """How towers are compared (see the module docstring)."""
    img_size: int = 448
    batch_size: int = 8
    device: str = 'cpu'
    mode: Optional[str] = None
    max_tokens: int = 100_000
    upsample: str = 'bilinear'
    seed: int = 0
    restarts: int = 1
    locality_pairs: int = 0
    windows: int = 1
    progress: bool = True


def evaluate_tower(spec: TowerSpec, folder: SegFolder, options: CompareOptions,
                   probe: Optional[SegFolder] = None,
                   log: Callable[[str], None] = print) -> Tuple[dict, dict]:
    """``(table row, JSON detail)`` of one tower."""
    tower = build_dense_tower(spec, mode=options.mode, seed=options.seed)
    view = ''
    if options.windows > 1:
        tower = replace(tower, fn=zoomed_windows(tower.fn, options.windows))
        view = f', each on {options.windows} x {options.windows} zoomed windows'
    paths = [folder.img_path(i) for i in range(len(folder))]
    log(f'[{spec.name}] dense maps of {len(paths)} images at {options.img_size} px{view}')
    maps, times = extract_dense_maps(tower, paths, options.img_size, options.batch_size,
                                     options.device, progress=options.progress)
    log(f'[{spec.name}] clustering into {folder.cfg.num_classes} clusters '
        f'({options.restarts} restart(s))')
    start = time.perf_counter()
    restarts = evaluate_over_restarts(
        maps, folder.labels(), folder.cfg.num_classes, restarts=options.restarts,
        seed=options.seed, ignore_index=folder.cfg.ignore_index, max_tokens=options.max_tokens,
        upsample=options.upsample, names=[folder.ann_path(i) for i in range(len(folder))])
    result = restarts.results[0]
    cluster_s = time.perf_counter() - start
    row = dict(tower=spec.name, mIoU=restarts.miou, aAcc=restarts.pixel_acc,
               mAcc=restarts.mean_acc, images=result.num_images,
               tokens_per_image=result.num_tokens // result.num_images,
               forward_s=times['forward'], cluster_s=cluster_s,
               cluster_vs_forward=cluster_s / max(times['forward'], 1e-9))
    extra = dict(mIoU_std=restarts.miou_std, restart_mIoUs=restarts.mious)
    if probe is not None:
        probe_maps, _ = extract_dense_maps(
            tower, [probe.img_path(i) for i in range(len(probe))], options.img_size,
            options.batch_size, options.device, progress=options.progress)
        probe_labels = [probe.load_labels(i) for i in range(len(probe))]
        probe_result = linear_probe_segmentation(
            probe_maps, probe_labels, maps, folder.labels(), folder.cfg.num_classes,
            ignore_index=folder.cfg.ignore_index, seed=options.seed)
        row['probe_mIoU'] = probe_result.miou
        extra['probe_per_class_iou'] = [None if not np.isfinite(v) else float(v)
                                        for v in probe_result.per_class_iou]
    if options.locality_pairs:
        images = [load_rgb(p, options.img_size) for p in paths]
        pairs = normalized_paste_pairs(images, options.locality_pairs, seed=options.seed)
        locality = tower_locality(tower.fn, pairs, batch_size=options.batch_size,
                                  device=options.device)
        row['locality'] = locality.index
        extra['locality_per_pair'] = locality.per_pair
    names = folder.cfg.class_names or [str(i) for i in range(folder.cfg.num_classes)]
    detail = dict(row, spec=dict(source=spec.source, weights=spec.weights, attr=spec.attr),
                  windows=options.windows, load_s=times['load'], cluster_timings=result.timings, **extra,
                  per_class_iou={n: (None if not np.isfinite(v) else float(v))
                                 for n, v in zip(names, result.per_class_iou)})
    log(f'[{spec.name}] mIoU {restarts.miou:.2f}  aAcc {restarts.pixel_acc:.2f}'
        + (f'  probe mIoU {row["probe_mIoU"]:.2f}' if 'probe_mIoU' in row else '')
        + (f'  locality {row["locality"]:.3f}' if 'locality' in row else ''))
    return row, detail


def compare_towers(specs: Sequence[TowerSpec], folder: SegFolder, options: CompareOptions,
                   probe: Optional[SegFolder] = None, log: Callable[[str], None] = print
                   ) -> Tuple[List[dict], List[dict]]:
    """Rows and details of every tower (names must be unique)."""
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f'tower names must be unique, got {names}; write NAME=SPEC')
    rows, details = [], []
    for spec in specs:
        row, detail = evaluate_tower(spec, folder, options, probe, log)
        rows.append(row)
        details.append(detail)
    return rows, details


def table_columns(rows: Sequence[dict]) -> Tuple[str, ...]:
    return COLUMNS + tuple(c for c in OPTIONAL_COLUMNS if rows and c in rows[0])


def format_table(rows: Sequence[dict], columns: Sequence[str] = COLUMNS) -> str:
    """Rows of dicts -> aligned text table over ``columns``."""
    def cell(value):
        return f'{value:.2f}' if isinstance(value, float) else str(value)
    cells = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ['  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(columns, widths)))]
    lines.append('  '.join('-' * w for w in widths))
    for r in cells:
        lines.append('  '.join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(r, widths))))
    return '\n'.join(lines)


def write_report(rows: Sequence[dict], details: Sequence[dict], settings: Dict,
                 out_dir: str) -> Tuple[str, str]:
    """Write ``dense_quality.csv`` (the table) and ``dense_quality.json`` (settings + details)."""
    os.makedirs(out_dir, exist_ok=True)
    csv_path = osp.join(out_dir, 'dense_quality.csv')
    json_path = osp.join(out_dir, 'dense_quality.json')
    with open(csv_path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=table_columns(rows))
        writer.writeheader()
        writer.writerows([{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                          for r in rows])
    with open(json_path, 'w') as f:
        json.dump(dict(settings=settings, towers=list(details)), f, indent=2)
    return csv_path, json_path
