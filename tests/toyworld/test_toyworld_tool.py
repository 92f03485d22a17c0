"""tools/toyworld.py end to end at a tiny scale: every stage, the table, the cache."""
import json
import os.path as osp

import pytest

ARGS = ['tools/toyworld.py', '--quick', '--iters-scale', '0.04', '--images-scale', '0.05',
        '--threads', '1']


@pytest.fixture(scope='module')
def toyworld_run(tmp_path_factory, run_python):
    work = str(tmp_path_factory.mktemp('toyworld'))
    first = run_python([*ARGS, '--work-dir', work], timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return work, first


def test_every_tower_gets_every_metric(toyworld_run):
    work, first = toyworld_run
    with open(osp.join(work, 'results.json')) as f:
        results = json.load(f)
    table = results['table']
    assert list(table) == ['CLIP', 'CLIP + Refiner', 'CLIPSelf', 'RegionCLIP', 'SC-RLA', 'R-SC-RLA']
    for row, values in table.items():
        expected = {'unsup_miou', 'ov_seg_miou', 'box_top1', 'mask_top1', 'box_colour',
                    'box_shape', 'mask_colour', 'mask_shape'}
        if row != 'CLIP + Refiner':
            expected |= {'novel_ap50', 'base_ap50'}
        assert set(values) == expected, row
        for key, seeds in values.items():
            assert len(seeds) == 1 and 0 <= seeds[0] <= 100, (row, key)
    shot = results['stage0']['zero_shot']
    assert set(shot) == {'top1', 'colour', 'shape'}
    with open(osp.join(work, 'table.md')) as f:
        text = f.read()
    towers, claims, parts = text.split('\n\n')
    assert towers.count('\n') == 1 + len(table) and '| R-SC-RLA |' in towers
    assert parts.startswith('| tower | box: colour right |')
    assert '| 2. SCD keeps it | unsup. seg mIoU | SC-RLA − CLIPSelf (> 0) |' in claims
    assert osp.getsize(osp.join(work, 'panel.png')) > 1000
    assert 'zero-shot on single-object scenes' in first.stdout


def test_a_second_call_reuses_every_step(toyworld_run, run_python):
    work, first = toyworld_run
    second = run_python([*ARGS, '--work-dir', work], timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert '===' not in second.stdout  # no step ran again
    assert second.stdout.count(': cached') >= 20
    table = lambda out: out[out.index('| tower |'):].split('\n[toyworld]')[0]  # noqa: E731
    assert table(second.stdout) == table(first.stdout)


def test_the_same_seed_gives_the_same_numbers(toyworld_run, tmp_path, run_python):
    """A fresh run (stage 0 included) reproduces the first run's values exactly."""
    work, _ = toyworld_run
    again = run_python([*ARGS, '--work-dir', str(tmp_path), '--methods', 'R-SC-RLA', '--no-fvit'],
                       timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    with open(osp.join(work, 'results.json')) as f:
        first = json.load(f)['table']
    with open(osp.join(tmp_path, 'results.json')) as f:
        second = json.load(f)['table']
    assert list(second) == ['CLIP', 'CLIP + Refiner', 'R-SC-RLA']
    for row, values in second.items():
        for key, seeds in values.items():
            assert seeds == first[row][key], (row, key)
