"""tools/visualize_dense.py writes panels of the expected size."""
import glob
import importlib.util
import os.path as osp

import cv2
import pytest

from refclip_mm.evaluation import panel_size

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'visualize_dense.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('visualize_dense', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_png_per_image_and_a_stack(tool, synthetic_root, tmp_path):
    images = sorted(glob.glob(osp.join(synthetic_root, 'images', 'val', '*.jpg')))[:2]
    written = tool.main(images + ['--tower', 'clip=tiny-openai', '--tower', 'eva=tiny-eva',
                                  '--img-size', '64', '--cell', '72', '--clusters', '5',
                                  '--point', '0.25', '0.75', '--out-dir', str(tmp_path / 'vis'),
                                  '--ann-dir', osp.join(synthetic_root, 'semantic', 'val'),
                                  '--stack', str(tmp_path / 'all.png')])
    stems = [osp.splitext(osp.basename(p))[0] for p in images]
    assert written == [str(tmp_path / 'vis' / f'{s}_dense.png') for s in stems] + [
        str(tmp_path / 'all.png')]
    height, width = panel_size(2, 72)
    for path in written[:2]:
        assert cv2.imread(path).shape == (height, width, 3)
    assert cv2.imread(written[2]).shape == (2 * height + 4, width, 3)


def test_folder_input_and_bad_arguments(tool, synthetic_root, tmp_path):
    folder = osp.join(synthetic_root, 'images', 'val')
    written = tool.main([folder, '--tower', 'tiny-openai', '--img-size', '32', '--cell', '32',
                         '--max-images', '1', '--out-dir', str(tmp_path)])
    assert len(written) == 1 and cv2.imread(written[0]).shape == panel_size(1, 32) + (3, )
    with pytest.raises(FileNotFoundError, match='no such image or folder'):
        tool.main([str(tmp_path / 'missing.jpg'), '--tower', 'tiny-openai'])
    with pytest.raises(ValueError, match=r'point \(1.5, 0.5\) must be'):
        tool.main([folder, '--tower', 'tiny-openai', '--img-size', '32', '--max-images', '1',
                   '--point', '1.5', '0.5', '--out-dir', str(tmp_path)])
