"""The ToyWorld's tables and its pre-registered decisions (docs/toyworld.md).

Results are read back from the step files (one JSON per tower, seed and evaluation size, and
one per F-ViT run) into ``table[section][row][metric] = [value of every seed]``; a section is
an evaluation size (``'64px'``, ``'192px'``) or ``'F-ViT'``. Each claim compares two rows on
one metric by the paired (same-seed) differences and is decided by
:func:`refclip_mm.evaluation.decision.decide`: the 95% t-interval of the mean difference
excludes 0 with the claimed sign (holds), with the other sign (contradicted), or not
(undecided, with the smallest effect the seeds could have detected).
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

from ..evaluation.decision import decide, t_interval

Table = Dict[str, Dict[str, Dict[str, List[float]]]]
DETECTION_SECTION = 'F-ViT'


def section_of(size: int) -> str:
    return f'{size}px'


def slug(row: str) -> str:
    """A row's name in file names: ``'CLIP + Refiner'`` -> ``'clip+refiner'``."""
    return row.lower().replace(' + ', '+').replace(' ', '_')


def eval_file(results: str, row: str, seed: int, size: int) -> str:
    return osp.join(results, f'eval_{slug(row)}_seed{seed}_{size}px.json')


def fvit_file(results: str, row: str, seed: int) -> str:
    return osp.join(results, f'fvit_{slug(row)}_seed{seed}.json')


def collect(results: str, rows: Sequence[str], seeds: Sequence[int], sizes: Sequence[int],
            detection_rows: Sequence[str] = (),
            seed_of: Callable[[str, int], int] = lambda row, seed: seed) -> Table:
    """Every value of every step file, by section, row and metric, in seed order.

    ``seed_of(row, seed)``: the seed whose evaluation file holds ``seed``'s values of ``row``
    (:meth:`~refclip_mm.toyworld.worlds.World.measured_seed`).

    Raises:
        FileNotFoundError: a step file is missing (the run is not complete).
    """
    def read(path):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} is missing: run the ToyWorld command again to '
                                    'compute it')
        with open(path) as f:
            return json.load(f)

    table: Table = {}

    def eval_path(size):
        return lambda row, seed: eval_file(results, row, seed_of(row, seed), size)

    files = [(section_of(size), row, eval_path(size)) for size in sizes for row in rows]
    files += [(DETECTION_SECTION, row, lambda row, seed: fvit_file(results, row, seed))
              for row in detection_rows]
    for section, row, path_of in files:
        values = table.setdefault(section, {}).setdefault(row, {})
        for seed in seeds:
            for key, value in read(path_of(row, seed)).items():
                values.setdefault(key, []).append(float(value))
    return table


def format_cell(values: Sequence[float], digits: int = 1) -> str:
    """``mean ± half-width of the 95% t-interval`` (the mean alone for one seed)."""
    if len(values) == 1:
        return f'{values[0]:.{digits}f}'
    mean, _, low, high = t_interval(values)
    return f'{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}'


def format_table(section: Dict[str, Dict[str, List[float]]],
                 metrics: Sequence[Tuple[str, str]]) -> str:
    """A markdown table of one section; a metric a row does not have is ``-``."""
    lines = ['| tower | ' + ' | '.join(title for _, title in metrics) + ' |',
             '|' + '---|' * (len(metrics) + 1)]
    for row, values in section.items():
        cells = [format_cell(values[key], 2 if key == 'locality' else 1) if key in values
                 else '-' for key, _ in metrics]
        lines.append(f'| {row} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


@dataclass(frozen=True)
class Claim:
    """One pre-registered comparison: ``a - b`` on ``metric`` in ``section`` has ``sign``."""
    claim: str
    section: str
    metric: str
    a: str
    b: str
    sign: int


def claims_for(stage2_size: int, native_size: int = 64,
               teachers: Sequence[Tuple[str, str]] = (('R-SC-RLA', 'CLIP + Refiner'), ),
               ) -> List[Claim]:
    """The pre-registered claims (docs/toyworld.md, "Pre-registered decisions"), dense metrics at both
    evaluation sizes, region and segmentation metrics at the stage-2 size. ``teachers``: per
    R-SC-RLA row, the row of CLIP followed by its teacher's Refiner (claims 3 and 3a are made
    for each; claim 4 for the first)."""
    main = teachers[0][0] if teachers else 'R-SC-RLA'
    out = []
    for size in (stage2_size, native_size):
        sec = section_of(size)
        for metric in ('unsup_miou', 'probe_miou'):
            out += [Claim('1. RLA degrades dense quality', sec, metric, 'CLIPSelf', 'CLIP', -1),
                    Claim('1. RLA degrades dense quality', sec, metric, 'RegionCLIP', 'CLIP', -1),
                    Claim('2. SCD keeps it', sec, metric, 'SC-RLA', 'CLIPSelf', +1)]
            out += [Claim('3. the Refiner makes SCD better', sec, metric, method, 'SC-RLA', +1)
                    for method, _ in teachers]
            out += [Claim('3a. the Refiner refines CLIP', sec, metric, refined, 'CLIP', +1)
                    for _, refined in teachers]
        out += [Claim('3a. the Refiner refines CLIP', sec, 'locality', refined, 'CLIP', -1)
                for _, refined in teachers]
        out += [Claim('1. RLA degrades dense quality', sec, 'locality', 'CLIPSelf', 'CLIP', +1)]
    sec = section_of(stage2_size)
    out += [Claim('3. the Refiner makes SCD better', sec, 'ov_seg_miou', method, 'SC-RLA', +1)
            for method, _ in teachers]
    out += [Claim('4. alignment improves', sec, 'box_top1', main, 'CLIP', +1),
            Claim('4. alignment improves', sec, 'mask_top1', main, 'CLIP', +1),
            Claim('4. alignment improves', sec, 'ov_seg_miou', main, 'CLIP', +1),
            Claim('4. alignment improves', DETECTION_SECTION, 'novel_ap50', main, 'CLIP', +1),
            Claim('4. alignment improves', DETECTION_SECTION, 'novel_ap50', main, 'CLIPSelf',
                  +1)]
    return out


def decide_claims(table: Table, claims: Sequence[Claim]) -> List[dict]:
    """Each claim whose rows are in the table, with its decision (as a dict)."""
    decided = []
    for claim in claims:
        rows = table.get(claim.section, {})
        if claim.metric not in rows.get(claim.a, {}) or claim.metric not in rows.get(claim.b, {}):
            continue
        diffs = [x - y for x, y in zip(rows[claim.a][claim.metric], rows[claim.b][claim.metric])]
        entry = dict(claim=claim.claim, section=claim.section, metric=claim.metric, a=claim.a,
                     b=claim.b, sign=claim.sign, differences=diffs)
        if len(diffs) >= 2:
            entry.update(decide(diffs, claim.sign).as_dict())
        decided.append(entry)
    return decided


def difference_digits(metric: str) -> int:
    """Decimals of a paired difference of ``metric`` (the locality index is a ratio near 0)."""
    return 3 if metric == 'locality' else 1


def format_interval(decision: dict, digits: int) -> str:
    """``mean [low, high]`` of a decision (:meth:`~refclip_mm.evaluation.decision.Decision.as_dict`),
    signed."""
    return (f'{decision["mean"]:+.{digits}f} [{decision["low"]:+.{digits}f}, '
            f'{decision["high"]:+.{digits}f}]')


def format_decisions(decided: Sequence[dict], titles: Dict[str, str]) -> str:
    lines = ['| claim | where | metric | difference | mean [95% interval] | detectable | '
             'seeds agreeing | verdict |', '|---|---|---|---|---|---|---|---|']
    for d in decided:
        digits = difference_digits(d['metric'])
        op = '<' if d['sign'] < 0 else '>'
        if 'verdict' in d:
            interval = format_interval(d, digits)
            rest = f'{d["detectable"]:.{digits}f} | {d["agreeing"]}/{d["n"]} | **{d["verdict"]}**'
        else:
            interval, rest = f'{d["differences"][0]:+.{digits}f}', '- | - | one seed'
        lines.append(f'| {d["claim"]} | {d["section"]} | {titles.get(d["metric"], d["metric"])} '
                     f'| {d["a"]} − {d["b"]} ({op} 0) | {interval} | {rest} |')
    return '\n'.join(lines)
