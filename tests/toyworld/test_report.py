"""The ToyWorld report: step files read back by section, and claims decided on paired seeds."""
import json

import pytest

from refclip_mm.toyworld.report import (Claim, claims_for, collect, decide_claims, eval_file,
                                        format_decisions, format_table, fvit_file)


def write(path, values):
    with open(path, 'w') as f:
        json.dump(values, f)


def test_collect_orders_values_by_seed_and_names_a_missing_file(tmp_path):
    for seed, value in ((0, 10.0), (1, 12.0)):
        write(eval_file(str(tmp_path), 'CLIP', seed, 64), dict(unsup_miou=value))
        write(fvit_file(str(tmp_path), 'CLIP', seed), dict(base_ap50=value + 1))
    table = collect(str(tmp_path), ['CLIP'], [0, 1], [64], ['CLIP'])
    assert table == {'64px': {'CLIP': {'unsup_miou': [10.0, 12.0]}},
                     'F-ViT': {'CLIP': {'base_ap50': [11.0, 13.0]}}}
    with pytest.raises(FileNotFoundError, match='eval_clip_seed2_64px.json'):
        collect(str(tmp_path), ['CLIP'], [0, 1, 2], [64])


def test_claims_are_decided_on_paired_differences():
    # a clear paired gain despite a large spread across seeds: holds
    table = {'192px': {'SC-RLA': {'unsup_miou': [10.0, 20.0, 30.0, 15.0]},
                       'CLIPSelf': {'unsup_miou': [8.0, 18.1, 27.9, 13.0]},
                       'R-SC-RLA': {'unsup_miou': [9.0, 21.0, 29.0, 16.0]}}}
    claims = [Claim('2', '192px', 'unsup_miou', 'SC-RLA', 'CLIPSelf', +1),
              Claim('3', '192px', 'unsup_miou', 'R-SC-RLA', 'SC-RLA', +1),
              Claim('1', '192px', 'unsup_miou', 'CLIPSelf', 'SC-RLA', +1),
              Claim('x', '64px', 'unsup_miou', 'SC-RLA', 'CLIPSelf', +1)]
    decided = decide_claims(table, claims)
    assert [d['verdict'] for d in decided] == ['holds', 'undecided', 'contradicted']
    assert decided[0]['differences'] == pytest.approx([2.0, 1.9, 2.1, 2.0])
    assert decided[1]['detectable'] > 1.0
    text = format_decisions(decided, {'unsup_miou': 'unsup. seg mIoU'})
    assert text.count('**holds**') == 1 and 'SC-RLA − CLIPSelf (> 0)' in text


def test_pre_registered_claims_cover_both_sizes_and_detection():
    claims = claims_for(192, 64)
    assert {c.section for c in claims} == {'192px', '64px', 'F-ViT'}
    assert any(c.metric == 'locality' and c.a == 'CLIP + Refiner' and c.sign == -1
               for c in claims)
    assert all(c.sign in (1, -1) for c in claims)


def test_table_cells_are_mean_and_interval_half_width():
    text = format_table({'CLIP': {'unsup_miou': [10.0, 12.0, 14.0], 'locality': [0.5]}},
                        [('unsup_miou', 'unsup'), ('locality', 'loc'), ('probe_miou', 'probe')])
    # t(0.975, 2) = 4.303, std 2, n 3: half-width 4.97
    assert '| CLIP | 12.0 ± 5.0 | 0.50 | - |' in text
