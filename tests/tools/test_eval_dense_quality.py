"""tools/eval_dense_quality.py on generated scenes with tiny towers."""
import csv
import importlib.util
import json
import os.path as osp

import pytest
import torch

from refclip_mm.clip import tiny_arch
from refclip_mm.utils.checkpoint import CheckpointError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'eval_dense_quality.py')
DEMO_SEG = osp.join(REPO, 'configs', 'demo', 'fcn_clipvit-tiny_200i_synthetic-64.py')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('eval_dense_quality', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _base(root, out, *extra):
    return ['--dataset', 'synthetic', '--data-root', root, '--img-size', '64', '--out-dir', str(out),
            '--no-progress', *extra]


def test_side_by_side_table_csv_and_json(tool, synthetic_root, tmp_path, capsys):
    config = tmp_path / 'tower_cfg.py'
    config.write_text(f'default_scope = "mmseg"\ncustom_imports = dict(imports=["refclip_mm"])\n'
                      f'dense_tower = dict(type="CLIPViT", clip_model={tiny_arch("openai")!r}, '
                      'out_indices=(), with_dense=True)\n')
    towers = ['--tower', 'a=tiny-openai', '--tower', 'again=tiny-openai', '--tower', 'eva=tiny-eva',
              '--tower', f'cfg={config}', '--tower', f'seg={DEMO_SEG}']
    rows = tool.main(_base(synthetic_root, tmp_path, *towers))
    out = capsys.readouterr().out
    assert 'tower' in out and 'mIoU' in out and 'best:' in out
    assert [r['tower'] for r in rows] == ['a', 'again', 'eva', 'cfg', 'seg']
    assert all(0 <= r['mIoU'] <= 100 and 0 <= r['aAcc'] <= 100 for r in rows)
    assert all(r['images'] == 4 and r['tokens_per_image'] == 64 for r in rows)
    # same tower, same seed: the same numbers; the config tower is the same tiny arch and seed
    assert rows[0]['mIoU'] == rows[1]['mIoU'] == rows[3]['mIoU']
    with open(tmp_path / 'dense_quality.csv') as f:
        table = list(csv.DictReader(f))
    assert [r['tower'] for r in table] == ['a', 'again', 'eva', 'cfg', 'seg']
    assert float(table[2]['mIoU']) == pytest.approx(rows[2]['mIoU'], abs=1e-4)
    report = json.loads((tmp_path / 'dense_quality.json').read_text())
    per_class = report['towers'][0]['per_class_iou']
    assert len(per_class) == 24 and 'grass' in per_class
    assert report['settings']['img_size'] == 64


def test_label_map_and_config_checkpoint(tool, synthetic_root, tmp_path):
    from refclip_mm.datasets.synthetic import STUFF_CLASSES
    mapping = {str(i): (0 if i < len(STUFF_CLASSES) else 1) for i in range(24)}
    (tmp_path / 'map.json').write_text(json.dumps(mapping))
    config = tmp_path / 'tower_cfg.py'
    config.write_text(f'dense_tower = dict(type="CLIPViT", clip_model={tiny_arch("openai")!r}, '
                      'out_indices=(), with_dense=True)\n')
    from refclip_mm.evaluation import build_dense_tower, parse_tower
    module = build_dense_tower(parse_tower(f'x={config}'), seed=5).module
    torch.save(dict(state_dict=module.state_dict()), tmp_path / 'tower.pth')
    rows = tool.main(_base(synthetic_root, tmp_path, '--num-classes', '2', '--label-map',
                           str(tmp_path / 'map.json'), '--tower', f'w={config}@{tmp_path}/tower.pth'))
    assert 0 <= rows[0]['mIoU'] <= 100
    torch.save(dict(state_dict={'nothing.weight': torch.zeros(1)}), tmp_path / 'bad.pth')
    with pytest.raises(CheckpointError, match='missing keys'):
        tool.main(_base(synthetic_root, tmp_path, '--tower', f'w={config}@{tmp_path}/bad.pth'))


def test_errors_name_what_to_fix(tool, synthetic_root, tmp_path):
    with pytest.raises(SystemExit):
        tool.main(_base(synthetic_root, tmp_path, '--tower', 'a=tiny-openai', '--tower',
                        'a=tiny-eva'))
    with pytest.raises(SystemExit):
        tool.main(['--dataset', 'coco-stuff-27', '--data-root', synthetic_root, '--tower',
                   'tiny-openai'])
    with pytest.raises(ValueError, match='contains class .* outside 0..4'):
        tool.main(_base(synthetic_root, tmp_path, '--num-classes', '5', '--tower', 'tiny-openai'))
    with pytest.raises(ValueError, match='not a multiple of the patch size 8'):
        tool.main(_base(synthetic_root, tmp_path, '--img-size', '60', '--tower', 'tiny-openai'))
    with pytest.raises(FileNotFoundError, match='label folder .* does not exist'):
        tool.main(_base(synthetic_root, tmp_path, '--ann-dir', 'nowhere', '--tower', 'tiny-openai'))
    with pytest.raises(ValueError, match='ViT-B-16@random'):
        tool.main(_base(synthetic_root, tmp_path, '--tower', 'ViT-B-16'))


def test_restarts_linear_probe_and_locality_columns(tool, synthetic_root, tmp_path):
    extra = ['--tower', 'a=tiny-openai', '--restarts', '3', '--probe-img-dir', 'images/train',
             '--probe-ann-dir', 'semantic/train', '--locality-pairs', '4']
    (row, ) = tool.main(_base(synthetic_root, tmp_path, *extra))
    assert 0 <= row['probe_mIoU'] <= 100 and 0 <= row['locality']
    report = json.loads((tmp_path / 'dense_quality.json').read_text())['towers'][0]
    assert len(report['restart_mIoUs']) == 3 and row['mIoU'] == pytest.approx(
        sum(report['restart_mIoUs']) / 3)
    assert len(report['locality_per_pair']) == 4
    with open(tmp_path / 'dense_quality.csv') as f:
        assert {'probe_mIoU', 'locality'} <= set(next(csv.DictReader(f)))


def test_locality_tool_on_an_image_folder(synthetic_root, tmp_path, run_python):
    tool = osp.join(REPO, 'tools', 'eval_locality.py')
    proc = run_python([tool, '--tower', 'a=tiny-openai', '--tower', 'b=tiny-eva', '--img-dir',
                       osp.join(synthetic_root, 'images', 'val'), '--pairs', '6', '--img-size',
                       '64', '--out-dir', str(tmp_path)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    towers = json.loads((tmp_path / 'locality.json').read_text())['towers']
    assert set(towers) == {'a', 'b'} and all(len(t['per_pair']) == 6 for t in towers.values())
    assert all(t['locality'] >= 0 and t['near_change'] > 0 for t in towers.values())


def test_zoomed_windows_view(tool, synthetic_root, tmp_path, capsys):
    """--zoomed-windows 1 is the full view; 2 measures other features and says so; a K that
    does not divide the image size is refused by name."""
    full, = tool.main(_base(synthetic_root, tmp_path / 'full', '--tower', 'tiny-openai'))
    same, = tool.main(_base(synthetic_root, tmp_path / 'one', '--tower', 'tiny-openai',
                            '--zoomed-windows', '1'))
    zoomed, = tool.main(_base(synthetic_root, tmp_path / 'two', '--tower', 'tiny-openai',
                              '--zoomed-windows', '2'))
    assert same['mIoU'] == full['mIoU']
    assert zoomed['mIoU'] != full['mIoU']
    report = json.loads((tmp_path / 'two' / 'dense_quality.json').read_text())
    assert report['towers'][0]['windows'] == 2
    with pytest.raises(SystemExit):
        tool.main(_base(synthetic_root, tmp_path, '--tower', 'tiny-openai', '--zoomed-windows', '3'))
    assert '--zoomed-windows 3' in capsys.readouterr().err
