"""tools/toyworld.py end to end at a tiny scale: every stage, the table, the cache."""
import glob
import json
import os.path as osp
import re

import pytest

ARGS = ['tools/toyworld.py', '--quick', '--iters-scale', '0.04', '--images-scale', '0.05',
        '--threads', '1']


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    """The work dir of :func:`toyworld_run` (what can be made again)."""
    return str(tmp_path_factory.mktemp('toyworld_scratch'))


@pytest.fixture(scope='module')
def toyworld_run(tmp_path_factory, run_python, scratch):
    """A run that keeps its results (``work``) apart from what can be made again."""
    work = str(tmp_path_factory.mktemp('toyworld'))
    first = run_python([*ARGS, '--work-dir', scratch, '--results-dir', work], timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return work, first


def test_every_tower_gets_every_metric(toyworld_run):
    work, first = toyworld_run
    with open(osp.join(work, 'results.json')) as f:
        results = json.load(f)
    table = results['table']
    assert list(table) == ['64px', '192px', 'F-ViT']
    rows = ['Pixels', 'CLIP', 'CLIP + Refiner', 'CLIPSelf', 'RegionCLIP', 'SC-RLA', 'R-SC-RLA']
    dense = {'unsup_miou', 'probe_miou', 'locality'}
    aligned = dense | {'ov_seg_miou', 'box_top1', 'mask_top1', 'box_colour', 'box_shape',
                       'mask_colour', 'mask_shape'}
    for size in ('64px', '192px'):
        assert list(table[size]) == rows
        for row, values in table[size].items():
            assert set(values) == (dense if row == 'Pixels' else aligned), (size, row)
            for key, seeds in values.items():
                assert len(seeds) == 1, (row, key)
                low, high = (-1e-6, 2) if key == 'locality' else (0, 100)
                assert low <= seeds[0] <= high, (size, row, key, seeds)
    assert list(table['F-ViT']) == ['CLIP', 'CLIPSelf', 'R-SC-RLA']
    assert all(set(v) == {'base_ap50', 'novel_ap50'} for v in table['F-ViT'].values())
    claims = results['claims']
    assert {c['section'] for c in claims} == {'64px', '192px', 'F-ViT'}
    assert all(len(c['differences']) == 1 for c in claims)
    shot = results['stage0']['zero_shot']
    assert set(shot) == {'top1', 'colour', 'shape'}
    with open(osp.join(work, 'table.md')) as f:
        text = f.read()
    assert text.count('| tower |') == 4 and '| R-SC-RLA |' in text
    assert '| 2. SCD keeps it | 192px | unsup. seg mIoU | SC-RLA − CLIPSelf (> 0) |' in text
    assert osp.getsize(osp.join(work, 'panel.png')) > 1000
    assert 'zero-shot on single-object scenes' in first.stdout
    assert re.search(r'\] stage 2: R-SC-RLA, seed 0 +\d+\.\d s  towers/r_sc_rla_seed0.pth',
                     first.stdout)


def test_each_detector_is_evaluated_once(toyworld_run, scratch):
    """The F-ViT's value is its test; the training run does not validate the same checkpoint
    on the same scenes first."""
    runs = sorted(glob.glob(osp.join(scratch, 'work', 'fvit_*')))
    assert [osp.basename(r) for r in runs] == ['fvit_clip_seed0', 'fvit_clipself_seed0',
                                               'fvit_r-sc-rla_seed0']
    for run in runs:
        logs = ''.join(open(path).read()
                       for path in glob.glob(osp.join(run, '*', '*.log')))
        assert 'Iter(val)' not in logs and logs.count('Iter(test)') >= 1, run
        assert logs.count('coco/novel_ap50:') == 1, run  # the metrics, printed once


def test_a_run_continues_from_its_results_dir_alone(toyworld_run, tmp_path, run_python):
    """A new work dir (the scenes, Refiners and towers gone): only the scenes and the text
    embeddings are made again; stage 0 and the seed's training and measurements are not."""
    work, first = toyworld_run
    second = run_python([*ARGS, '--work-dir', str(tmp_path), '--results-dir', work],
                        timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    ran = re.findall(r'\] (.+?) +\d+\.\d s  ', second.stdout)
    assert ran == ['data', 'text embeddings'], second.stdout
    # stage 0, its zero-shot check, seed 0 as a whole (the panel is kept, not drawn again)
    assert second.stdout.count(' cached  ') == 3
    assert 'seed 0: every measurement' in second.stdout
    table = lambda out: out[out.index('| tower |'):].split('\n[toyworld]')[0]  # noqa: E731
    assert table(second.stdout) == table(first.stdout)


def test_results_of_other_sizes_are_not_continued(toyworld_run, tmp_path, run_python):
    work, _ = toyworld_run
    other = run_python(['tools/toyworld.py', '--quick', '--iters-scale', '0.2',
                        '--images-scale', '0.05', '--work-dir', str(tmp_path),
                        '--results-dir', work], timeout=300)
    assert other.returncode != 0
    assert 'protocol.json was written by a run with other sizes' in other.stderr
    assert 'refiner_iters' in other.stderr


def test_the_same_seed_gives_the_same_numbers(toyworld_run, tmp_path, run_python):
    """A fresh run (stage 0 included) reproduces the first run's values exactly."""
    work, _ = toyworld_run
    again = run_python([*ARGS, '--work-dir', str(tmp_path), '--methods', 'R-SC-RLA', '--no-fvit',
                        '--precision-check', '0'], timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    with open(osp.join(work, 'results.json')) as f:
        first = json.load(f)['table']
    with open(osp.join(tmp_path, 'results.json')) as f:
        second = json.load(f)['table']
    assert list(second) == ['64px', '192px']
    for size, rows in second.items():
        assert list(rows) == ['Pixels', 'CLIP', 'CLIP + Refiner', 'R-SC-RLA']
        for row, values in rows.items():
            for key, seeds in values.items():
                assert seeds == first[size][row][key], (size, row, key)
    with open(osp.join(tmp_path, 'results.json')) as f:
        results = json.load(f)
    from refclip_mm.utils.precision import native_bf16
    if not native_bf16('cpu'):
        # every step trained in fp32 ('auto'): the bf16 check has nothing to compare
        assert 'precision_check' not in results
        assert 'the bf16 precision check is skipped' in again.stdout
        assert results['machines']['seed 0']['precision'] == 'fp32'
        return
    check = results['precision_check']
    # the protocol's bf16 values of seed 0 beside the same seed trained in fp32
    assert list(check) == ['R-SC-RLA, bf16', 'R-SC-RLA, fp32']
    assert check['R-SC-RLA, bf16'] == {k: v for k, v in second['192px']['R-SC-RLA'].items()}
    assert set(check['R-SC-RLA, fp32']) == set(check['R-SC-RLA, bf16'])
    assert osp.isfile(osp.join(tmp_path, 'towers', 'r_sc_rla_fp32_seed0.pth'))


def test_refiner_ablation_trains_only_its_variants(toyworld_run, tmp_path, run_python):
    """The stage-1 ablation on a finished run: the registered variant and CLIP are the run's own
    measurements; each named variant trains one Refiner and is measured like CLIP + Refiner;
    the target view is measured without training anything."""
    work, _ = toyworld_run
    args = [*ARGS, '--work-dir', str(tmp_path), '--results-dir', work,
            '--refiner-ablation', 'crop-64', 'target-view']
    first = run_python(args, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    ran = re.findall(r'\] (.+?) +\d+\.\d s  ', first.stdout)
    # the registered Refiner is trained again only because this work dir does not hold it
    # (its objective needs the weights); its measurements are the main run's
    assert ran == ['data', 'text embeddings',
                   'stage 1: Refiner variant registered, seed 0',
                   'stage-1 objective, registered, seed 0',
                   'stage 1: Refiner variant crop-64, seed 0',
                   'evaluate CLIP + Refiner crop-64 at 64 px, seed 0',
                   'evaluate CLIP + Refiner crop-64 at 192 px, seed 0',
                   'stage-1 objective, crop-64, seed 0',
                   'evaluate target-view at 64 px, seed 0',
                   'evaluate target-view at 192 px, seed 0'], first.stdout
    assert not glob.glob(osp.join(tmp_path, 'ablation', '*target-view*'))
    with open(osp.join(work, 'ablation.json')) as f:
        table = json.load(f)['table']
    with open(osp.join(work, 'results.json')) as f:
        main = json.load(f)['table']
    for size in ('64px', '192px'):
        assert list(table[size]) == ['registered', 'target-view', 'crop-64']
        registered = table[size]['registered']['unsup_miou']
        assert registered['values'] == main[size]['CLIP + Refiner']['unsup_miou']
        assert registered['differences'] == pytest.approx(
            [main[size]['CLIP + Refiner']['unsup_miou'][0] - main[size]['CLIP']['unsup_miou'][0]])
        # a variant is another Refiner, the target view other maps of the same CLIP: their
        # dense maps, hence their locality indices, differ from the registered one and CLIP's
        for variant in ('crop-64', 'target-view'):
            assert (table[size][variant]['locality']['values']
                    != table[size]['registered']['locality']['values'])
            assert table[size][variant]['locality']['differences'][0] != 0
    with open(osp.join(work, 'ablation.md')) as f:
        text = f.read()
    assert '| crop-64 | 1 |' in text and '| target-view | 1 |' in text
    objective = json.load(open(osp.join(work, 'ablation.json')))['objective']
    assert list(objective) == ['registered', 'crop-64']
    for variant, row in objective.items():
        # the untrained Refiner is the identity: the student is the frozen full view; a
        # trained one has moved away from it (its tokens agree differently with the target)
        assert 0 < row['token_cos']['identity'] <= 1
        assert row['token_cos']['trained'] != row['token_cos']['identity']
        assert row['loss_dense']['trained'] != row['loss_dense']['identity']
    again = run_python(args, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.findall(r'\] (.+?) +\d+\.\d s  ', again.stdout) == []
    unknown = run_python([*args[:-2], 'no-such-variant'], timeout=120)
    assert unknown.returncode == 2 and 'no-such-variant' in unknown.stderr


def test_the_third_world_checks_its_premises_and_stops(tmp_path, run_python):
    """--world 3 --premises: the native scenes, stage 0 on their 64 px views, the premise
    checks with every registered bar; no seed is trained."""
    import math
    out = run_python(['tools/toyworld.py', '--world', '3', '--premises', '--quick',
                      '--iters-scale', '0.04', '--images-scale', '0.05', '--threads', '1',
                      '--work-dir', str(tmp_path)], timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    with open(tmp_path / 'premises.json') as f:
        premises = json.load(f)
    assert [name[:3] for name in premises['verdicts']] == ['P1a', 'P1b', 'P1c', 'P2a', 'P2b']
    for verdict in premises['verdicts'].values():
        assert math.isfinite(verdict['value']) and verdict['met'] == (
            verdict['value'] >= verdict['bar'])
    measured = premises['measured']
    assert set(measured) == {'tokens_64', 'tokens_192', 'clip_64', 'clip_192', 'windows_192',
                             'small_things'}
    assert set(measured['small_things']) == {'crop', 'roi_64', 'roi_192'}
    assert not glob.glob(str(tmp_path / 'towers' / '*'))
    with open(tmp_path / 'data' / 'annotations' / 'instances_val.json') as f:
        assert {image['width'] for image in json.load(f)['images']} == {192}
    assert 'premises of toyworld3' in out.stdout


def test_the_trained_detector_draws_every_word(toyworld_run, scratch, tmp_path):
    """The --toyworld demo's last picture: the run's CLIPSelf F-ViT on val scenes, labelled
    with the world's thing words, the novel ones fused as novel."""
    from refclip_mm.toyworld.your_words import your_words_picture
    work, _ = toyworld_run
    out = str(tmp_path / 'words')
    pictures = your_words_picture(scratch, results_dir=work, quick=True, out_dir=out,
                                  score_thr=0.0)
    assert len(pictures) == 2 and all(osp.getsize(p) > 1000 for p in pictures)
    with open(osp.join(scratch, 'data', 'classes.json')) as f:
        words = json.load(f)['thing']
    for picture in pictures:
        name = osp.splitext(osp.basename(picture))[0]
        with open(osp.join(out, 'preds', f'{name}.json')) as f:
            record = json.load(f)
        assert record['classes'] == words
        assert 0 < len(record['base_classes']) < len(words)  # the novel words are not base
        assert set(record['label_names']) <= set(words) and record['scores']
    with pytest.raises(FileNotFoundError, match='no last_checkpoint'):
        your_words_picture(scratch, results_dir=work, quick=True, row='RegionCLIP')
