"""The README's main job (tools/demo.py) runs end to end in its fast mode, quietly."""
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_demo_fast_runs_every_stage_in_a_few_lines(tmp_path, capfd):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from demo import main
    work = tmp_path / 'demo'
    results = main(['--fast', '--work-dir', str(work), '--data-root', str(tmp_path / 'data')])
    printed = capfd.readouterr()
    lines = (printed.out + printed.err).splitlines()
    assert len(lines) < 60, '\n'.join(lines)
    assert sum(line.startswith('[') and '/9]' in line for line in lines) == 9  # a line a stage
    assert len(results) == 9
    for name in ('tiny_clip.pth', 'refiner_tiny.pth', 'stage2_tower.pth',
                 'dense_quality/dense_quality.csv', 'dense_vis/all.png',
                 'stage1/console.log', 'fvit/console.log'):
        assert (work / name).is_file(), name
    quality = next(v for k, v in results.items() if k.startswith('dense quality'))
    assert set(quality) == {'clip', 'clip+refiner', 'r-sc-rla'}
    assert all(0.0 < v <= 100.0 for v in quality.values())
    segmentation = next(v for k, v in results.items() if k.startswith('segmentation'))
    assert 0.0 <= segmentation['mIoU'] <= 100.0 and segmentation['aAcc'] > 0.0
    detection = next(v for k, v in results.items() if k.startswith('open-vocabulary detection'))
    assert set(detection) == {'base_ap50', 'novel_ap50'}  # OVCocoMetric's split results
    assert all(0.0 <= v <= 1.0 for v in detection.values())  # -1 would mean no novel objects
    words = next(v for k, v in results.items() if k.startswith('your words'))
    assert 'yellow' in words['words']  # a novel class among the words
    pictures = list((work / 'your_words' / 'vis').iterdir())
    assert len(pictures) == 1 and pictures[0].stat().st_size > 1000
    predictions = list((work / 'your_words' / 'preds').iterdir())
    assert len(predictions) == 1 and predictions[0].suffix == '.json'
