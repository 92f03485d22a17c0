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


def test_claims_3_and_3a_are_made_for_each_refiners_teacher():
    teachers = [('R-SC-RLA', 'CLIP + Refiner'),
                ('R-SC-RLA (InfoNCE)', 'CLIP + Refiner (InfoNCE)')]
    claims = claims_for(192, 64, teachers)
    for method, refined in teachers:
        for size in ('192px', '64px'):
            assert {c.metric for c in claims if c.a == method and c.b == 'SC-RLA'
                    and c.section == size} >= {'unsup_miou', 'probe_miou'}
            assert {c.metric for c in claims if c.a == refined and c.section == size} == \
                {'unsup_miou', 'probe_miou', 'locality'}
    # claim 4 (alignment, detection) is the main teacher's only
    assert {c.a for c in claims if c.claim.startswith('4.')} == {'R-SC-RLA'}
    # with one teacher: the second world's registered claims, in their order
    one = claims_for(192, 64)
    assert [c for c in claims if 'InfoNCE' not in c.a] == one


def test_several_detectors_are_averaged_and_each_is_kept(tmp_path):
    from refclip_mm.toyworld.pipeline import detector_file, mean_of_detectors
    out = str(tmp_path / 'fvit_clip_seed0.json')
    files = [detector_file(out, d) for d in range(2)]
    assert files[1].endswith('fvit_clip_seed0_det1.json')
    write(files[0], dict(base_ap50=40.0, novel_ap50=3.0))
    write(files[1], dict(base_ap50=50.0, novel_ap50=6.0))
    mean_of_detectors(files, out)
    with open(out) as f:
        assert json.load(f) == dict(base_ap50=45.0, novel_ap50=4.5, base_ap50_det0=40.0,
                                    novel_ap50_det0=3.0, base_ap50_det1=50.0,
                                    novel_ap50_det1=6.0)


def test_a_seed_free_row_is_measured_once_and_is_every_seeds_value(tmp_path):
    from refclip_mm.toyworld.pipeline import seed_measurements
    from refclip_mm.toyworld.worlds import WORLD2, WORLD3
    assert WORLD3.measured_seed('CLIP', 3) == 0 and WORLD3.measured_seed('Pixels', 4) == 0
    assert WORLD3.measured_seed('CLIPSelf', 3) == 3
    assert WORLD2.measured_seed('CLIP', 3) == 3  # the second world measured it per seed
    write(eval_file(str(tmp_path), 'CLIP', 0, 64), dict(unsup_miou=10.0))
    for seed, value in ((0, 11.0), (1, 13.0)):
        write(eval_file(str(tmp_path), 'CLIPSelf', seed, 64), dict(unsup_miou=value))
    table = collect(str(tmp_path), ['CLIP', 'CLIPSelf'], [0, 1], [64],
                    seed_of=WORLD3.measured_seed)
    assert table['64px']['CLIP']['unsup_miou'] == [10.0, 10.0]
    assert table['64px']['CLIPSelf']['unsup_miou'] == [11.0, 13.0]
    with pytest.raises(FileNotFoundError, match='eval_clip_seed1_64px.json'):
        collect(str(tmp_path), ['CLIP'], [0, 1], [64], seed_of=WORLD2.measured_seed)

    class Run:  # what seed_measurements reads of a run
        results, world = str(tmp_path), WORLD3
        protocol = WORLD3.full
    files = seed_measurements(Run, 2, ['CLIPSelf'], fvit_detectors=False)
    assert eval_file(str(tmp_path), 'CLIP', 0, 192) in files
    assert eval_file(str(tmp_path), 'CLIPSelf', 2, 192) in files
    assert not any('clip_seed2' in f or 'pixels_seed2' in f for f in files)
