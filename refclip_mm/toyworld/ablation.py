"""The stage-1 ablation (docs/results/toyworld_history.md, "The Refiner ablation"): which choice
of the Refiner's training decides whether CLIP + Refiner beats CLIP.

Each variant changes one thing of the registered stage 1 (config options by key, or the number
of steps), trains a Refiner on the frozen stage-0 CLIP for a seed, and measures CLIP + that
Refiner with the protocol's own evaluation (the same scenes, sizes, k-means restarts, probe and
locality pairs: :func:`.pipeline.evaluate`), and the terms of its own stage-1 objective for the
untrained and the trained Refiner (:mod:`.objective`). The registered variant is the run's own
Refiner and its ``CLIP + Refiner`` measurements; nothing of the main run is trained again. The
``target-view`` reference trains nothing: it measures the Refiner's target itself
(:func:`~refclip_mm.evaluation.zoomed_windows`).

Files: the Refiners in ``<work>/ablation/``, the measurements in
``<results>/ablation/eval_<variant>_seed<s>_<size>px.json`` and
``objective_<variant>_seed<s>.json`` (each step skipped when its file exists). The table gives,
per variant and evaluation size, each metric's paired difference to CLIP on the same seed (mean
and 95% interval over the seeds that have it), the registered rule's verdicts on the differences
to CLIP and to the registered Refiner (:func:`ablation_decisions`), and each variant's objective
terms.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .pipeline import ZOOMED_WINDOWS
from .worlds import REFINED

REGISTERED = 'registered'
TARGET_VIEW = 'target-view'


@dataclass(frozen=True)
class RefinerVariant:
    """One change to the registered stage 1 (configs/toyworld/refiner_*.py), or (``row`` other
    than ``'CLIP + Refiner'``) a reference measured in its place without training a Refiner."""
    what: str
    options: Dict[str, Any] = field(default_factory=dict)
    iters_factor: float = 1.0
    row: str = REFINED


# in the order they are run when no variant is named: the target itself (the Refiner's premise:
# is the zoomed view better than the full one?), the target view, then the loss, the learning
# rate, the token space, depth, filter, grid, steps
REFINER_VARIANTS = {
    REGISTERED: RefinerVariant('as registered: zoomed crop at the input size (128 px), '
                               'InfoNCE + 0.4 SCD, lr 1e-3, projected tokens, depth 2, grid 4, '
                               '200 steps, no contaminant filter'),
    TARGET_VIEW: RefinerVariant('no Refiner: the stage-0 CLIP on 2 x 2 windows, each zoomed to '
                                'the evaluation size (the target, applied to the whole image)',
                                row=ZOOMED_WINDOWS),
    'crop-64': RefinerVariant('target view: the crop at the CLIP\'s native 64 px',
                              {'model.crop_size': 64}),
    'no-scd': RefinerVariant('loss: InfoNCE only (no SCD term)', {'model.loss_scd': None}),
    'lr-1e-4': RefinerVariant('learning rate 1e-4 (the default of docs/method.md section 4.4)',
                              {'optim_wrapper.optimizer.lr': 1e-4}),
    'width-tokens': RefinerVariant('token space: before the projection',
                                   {'model.token_space': 'width'}),
    'depth-1': RefinerVariant('Refiner depth 1', {'model.refiner.depth': 1}),
    'contaminant-filter': RefinerVariant('contaminant filter on',
                                         {'model.filter_contaminants': True}),
    'grid-8': RefinerVariant('8 x 8 tokens per box', {'model.grid_size': 8}),
    'depth-4': RefinerVariant('Refiner depth 4', {'model.refiner.depth': 4}),
    'steps-x4': RefinerVariant('4 times the steps (800)', iters_factor=4.0),
    # registered after the objective measurement showed the InfoNCE rewarding a drift away
    # from the target (docs/toyworld.md)
    'cosine-loss': RefinerVariant('loss: 1 - cosine to each target token instead of the '
                                  'InfoNCE (+ 0.4 SCD)',
                                  {'model.loss_dense': dict(type='DenseCosineLoss',
                                                            _delete_=True)}),
}
METRICS = (('unsup_miou', 'unsup. seg mIoU'), ('probe_miou', 'linear probe mIoU'),
           ('locality', 'locality index'), ('ov_seg_miou', 'OV seg mIoU'))
# the registered rule (docs/toyworld.md): a variant is decided on its paired differences to CLIP
# (dense quality > 0, locality index < 0) and to the registered Refiner (dense quality > 0);
# the target-view reference on dense quality only (its locality is lower by construction)
VERSUS_CLIP = (('unsup_miou', 1), ('probe_miou', 1), ('locality', -1))
VERSUS_REGISTERED = (('unsup_miou', 1), ('probe_miou', 1))
DECISION_SEEDS = 5


def check_variants(names: Sequence[str]) -> List[str]:
    unknown = [n for n in names if n not in REFINER_VARIANTS]
    if unknown:
        raise ValueError(f'unknown Refiner variants {unknown}; choose from '
                         f'{list(REFINER_VARIANTS)}')
    return list(names)


def variant_eval_file(run, variant: str, seed: int, size: int) -> str:
    """Where a variant's measurement is kept (the registered one is the main run's)."""
    from .report import eval_file
    if variant == REGISTERED:
        return eval_file(run.results, REFINED, seed, size)
    return eval_file(run.kept('ablation'), variant, seed, size)


def objective_file(run, variant: str, seed: int) -> str:
    """Where a variant's stage-1 objective terms are kept (:mod:`.objective`)."""
    return osp.join(run.kept('ablation'), f'objective_{variant}_seed{seed}.json')


def run_variant(run, variant: str, seed: int, cache: dict) -> None:
    """Train (unless kept) and measure one variant of one seed, and measure its stage-1
    objective (:mod:`.objective`); the registered variant is the main run's Refiner and
    measurement (made by the main run when missing); a reference variant (``row``) is
    measured without training."""
    from .objective import stage1_objective
    from .pipeline import evaluate_step, refiner, write_json
    spec = REFINER_VARIANTS[variant]
    if spec.row != REFINED:
        for size in run.protocol.eval_sizes:
            evaluate_step(run, spec.row, seed, size, cache, name=variant,
                          out=variant_eval_file(run, variant, seed, size))
        return
    name = 'refiner' if variant == REGISTERED else f'refiner_{variant}'
    weights = run.refiner(seed) if variant == REGISTERED else run.path(
        'ablation', f'{name}_seed{seed}.pth')
    outs = {size: variant_eval_file(run, variant, seed, size) for size in run.protocol.eval_sizes}
    objective = objective_file(run, variant, seed)
    if all(osp.exists(out) for out in [*outs.values(), objective]):
        run.lines.cached(f'Refiner variant {variant}, seed {seed}', 'every measurement')
        return
    run.step(f'stage 1: Refiner variant {variant}, seed {seed}', weights,
             lambda bar: refiner(run, seed, progress=bar, options=spec.options,
                                 iters_factor=spec.iters_factor, name=name, out=weights))
    for size, out in outs.items():
        evaluate_step(run, REFINED, seed, size, cache, name=f'{REFINED} {variant}',
                      out=out, refiner_file=weights)
    run.step(f'stage-1 objective, {variant}, seed {seed}', objective,
             lambda _: write_json(objective, stage1_objective(run, weights, spec.options)))


def ablation_table(run, variants: Sequence[str], seeds: Sequence[int]) -> dict:
    """``{size: {variant: {metric: {'values': [...], 'differences': [...], ...}}}}``: each
    variant's values and its paired differences to CLIP over the seeds that have them (the
    95% t-interval of the mean difference from two seeds on)."""
    from ..evaluation.decision import t_interval
    from .pipeline import read_json
    from .report import eval_file

    def clip_file(seed, size):
        return eval_file(run.results, 'CLIP', run.world.measured_seed('CLIP', seed), size)

    table: dict = {}
    for size in run.protocol.eval_sizes:
        section = table.setdefault(f'{size}px', {})
        for variant in variants:
            have = [s for s in seeds if osp.exists(variant_eval_file(run, variant, s, size))
                    and osp.exists(clip_file(s, size))]
            if not have:
                continue
            rows = section.setdefault(variant, {})
            measured = [read_json(variant_eval_file(run, variant, s, size)) for s in have]
            clips = [read_json(clip_file(s, size)) for s in have]
            for key, _ in METRICS:
                values = [m[key] for m in measured]
                clip = [c[key] for c in clips]
                diffs = [v - c for v, c in zip(values, clip)]
                entry = dict(seeds=have, values=values, differences=diffs)
                if len(diffs) >= 2:
                    mean, _, low, high = t_interval(diffs)
                    entry.update(mean=mean, low=low, high=high)
                rows[key] = entry
    return table


def ablation_decisions(table: dict) -> dict:
    """``{size: {variant: {'CLIP' | 'registered': {metric: Decision.as_dict()}}}}``: the
    registered rule (:func:`~refclip_mm.evaluation.decision.decide`) on each variant's paired
    differences to CLIP and to the registered Refiner, over the seeds both have, for every
    variant measured on two seeds or more. ``table``: :func:`ablation_table`'s."""
    from ..evaluation.decision import decide
    decisions: dict = {}
    for section, rows in table.items():
        registered = rows.get(REGISTERED, {})
        for variant, values in rows.items():
            if variant == REGISTERED:
                continue
            versus = dict(CLIP={key: (values[key]['differences'], sign)
                                for key, sign in VERSUS_CLIP})
            if REFINER_VARIANTS[variant].row == ZOOMED_WINDOWS:
                del versus['CLIP']['locality']
            elif registered:
                versus[REGISTERED] = {key: (paired(values[key], registered[key]), sign)
                                      for key, sign in VERSUS_REGISTERED}
            entry = {}
            for reference, metrics in versus.items():
                decided = {key: decide(diffs, sign).as_dict()
                           for key, (diffs, sign) in metrics.items() if len(diffs) >= 2}
                if decided:
                    entry[reference] = decided
            if entry:
                decisions.setdefault(section, {})[variant] = entry
    return decisions


def paired(variant: dict, reference: dict) -> List[float]:
    """``variant - reference`` values on the seeds both have (entries of :func:`ablation_table`)."""
    theirs = dict(zip(reference['seeds'], reference['values']))
    return [v - theirs[s] for s, v in zip(variant['seeds'], variant['values']) if s in theirs]


def format_decisions(decisions: dict) -> str:
    """Markdown: per size and variant, mean [95% interval] and verdict of each decided
    difference (interim below :data:`DECISION_SEEDS` seeds)."""
    from .report import difference_digits, format_interval
    keys = [key for key, _ in VERSUS_CLIP]
    names = dict(METRICS)
    lines = [f'Decisions by the registered rule (95% t-interval of the mean paired difference; '
             f'claimed: > 0, locality < 0; the rule decides at {DECISION_SEEDS} seeds, fewer '
             'are interim):', '', '| variant | size | versus | seeds | '
             + ' | '.join(names[k] for k in keys) + ' |', '|' + '---|' * (len(keys) + 4)]
    for section, variants in decisions.items():
        for variant, versus in variants.items():
            for reference, decided in versus.items():
                cells = []
                for key in keys:
                    d = decided.get(key)
                    cells.append('' if d is None else
                                 f'{format_interval(d, difference_digits(key))} {d["verdict"]}')
                n = next(iter(decided.values()))['n']
                lines.append(f'| {variant} | {section[:-2]} px | {reference} | {n} | '
                             + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def objective_table(run, variants: Sequence[str], seeds: Sequence[int]) -> dict:
    """``{variant: {'seeds': [...], term: {'identity': mean, 'trained': mean}}}``: the stage-1
    objective terms of each variant's untrained and trained Refiner, averaged over the seeds
    that have them."""
    from .objective import TERMS, mean_or_none
    from .pipeline import read_json
    table: dict = {}
    for variant in variants:
        have = [s for s in seeds if osp.exists(objective_file(run, variant, s))]
        if not have:
            continue
        measured = [read_json(objective_file(run, variant, s)) for s in have]
        table[variant] = dict(seeds=have, **{
            term: {state: mean_or_none([m[state][term] for m in measured])
                   for state in ('identity', 'trained')} for term in TERMS})
    return table


def format_objective(table: dict) -> str:
    """Markdown: each variant's objective terms, untrained (identity) -> trained."""
    from .objective import TERMS
    lines = ['Stage-1 objective on fixed training batches, untrained Refiner (identity) -> '
             'trained:', '', '| variant | seeds | ' + ' | '.join(TERMS) + ' |',
             '|' + '---|' * (len(TERMS) + 2)]
    for variant, row in table.items():
        cells = ['-' if row[t]['trained'] is None else
                 f'{row[t]["identity"]:.3f} -> {row[t]["trained"]:.3f}' for t in TERMS]
        lines.append(f'| {variant} | {len(row["seeds"])} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_ablation(table: dict) -> str:
    """Markdown: per size, each variant's mean difference to CLIP (± half-width of the 95%
    interval from two seeds on) for every metric, and its number of seeds."""
    from .report import difference_digits
    parts = []
    for section, rows in table.items():
        lines = [f'Variant − CLIP, at {section[:-2]} px (a variant: CLIP + its Refiner; '
                 f'{TARGET_VIEW}: CLIP on zoomed windows, no Refiner):', '',
                 '| variant | seeds | ' + ' | '.join(t for _, t in METRICS) + ' |',
                 '|' + '---|' * (len(METRICS) + 2)]
        for variant, values in rows.items():
            cells = []
            for key, _ in METRICS:
                e, digits = values[key], difference_digits(key)
                if 'mean' in e:
                    half = (e['high'] - e['low']) / 2
                    cells.append(f'{e["mean"]:+.{digits}f} ± {half:.{digits}f}')
                else:
                    cells.append(f'{e["differences"][0]:+.{digits}f}')
            seeds = len(next(iter(values.values()))['seeds'])
            lines.append(f'| {variant} | {seeds} | ' + ' | '.join(cells) + ' |')
        parts.append('\n'.join(lines))
    return '\n\n'.join(parts)


def run_refiner_ablation(work_dir: str, variants: Optional[Sequence[str]] = None,
                         seeds: Sequence[int] = (0, ), results_dir: Optional[str] = None,
                         verbose: bool = False) -> dict:
    """Run (or continue) the stage-1 ablation on a ToyWorld run whose stage 0 is done (its
    results dir holds ``protocol.json`` and the stage-0 CLIP); returns the table and writes
    ``ablation.json`` and ``ablation.md`` to the results dir.

    ``variants``: names of :data:`REFINER_VARIANTS` (default: all, registered first).
    """
    from dataclasses import replace

    from .pipeline import (Protocol, Run, evaluate_step, make_data, read_json, text_embeddings,
                           write_json)
    variants = check_variants(variants or list(REFINER_VARIANTS))
    if REGISTERED not in variants:
        variants = [REGISTERED, *variants]
    keep = results_dir or work_dir
    for name in ('protocol.json', 'clip_toy.pth'):
        if not osp.exists(osp.join(keep, name)):
            raise FileNotFoundError(f'{osp.join(keep, name)} is missing: run python '
                                    'tools/toyworld.py with this --results-dir first')
    sizes = {k: v for k, v in read_json(osp.join(keep, 'protocol.json')).items()
             if k in Protocol.__dataclass_fields__}
    run = Run(work_dir, replace(Protocol(**sizes), seeds=tuple(seeds)), verbose, results_dir)
    run.step('data', osp.join(run.data, 'classes.json'), lambda _: make_data(run))
    run.step('text embeddings', run.text['concepts'], lambda _: text_embeddings(run))
    cache: dict = {}
    for seed in seeds:
        for size in run.protocol.eval_sizes:
            evaluate_step(run, 'CLIP', seed, size, cache)
        for variant in variants:
            run_variant(run, variant, seed, cache)
    all_seeds = sorted(set(seeds) | kept_seeds(run))
    table = ablation_table(run, list(REFINER_VARIANTS), all_seeds)
    objective = objective_table(run, list(REFINER_VARIANTS), all_seeds)
    decisions = ablation_decisions(table)
    text = '\n\n'.join([format_ablation(table), format_decisions(decisions),
                        format_objective(objective)])
    write_json(run.kept('ablation.json'), dict(
        variants={n: dict(what=v.what, options=v.options, iters_factor=v.iters_factor,
                          row=v.row) for n, v in REFINER_VARIANTS.items()},
        table=table, decisions=decisions, objective=objective))
    with open(run.kept('ablation.md'), 'w') as f:
        f.write(text + '\n')
    print(text)
    return table


def kept_seeds(run) -> set:
    """The seeds of every ablation measurement in the results dir."""
    import glob
    import re
    found = set()
    for path in glob.glob(osp.join(run.kept('ablation'), 'eval_*_seed*_*px.json')):
        match = re.search(r'_seed(\d+)_\d+px\.json$', path)
        if match:
            found.add(int(match.group(1)))
    return found
