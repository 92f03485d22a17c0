"""The one table of checkpoint layouts: which keys of which model hold which artifact's weights."""
import pytest
import torch

from refclip_mm.clip import build_clip, build_image_tower, tiny_arch
from refclip_mm.clip.convert import strip_clip_prefix
from refclip_mm.utils.checkpoint import CheckpointError, extract_state_dict
from refclip_mm.utils.weight_layouts import (LAYOUTS, clip_image_prefixes, identify_layouts,
                                             layout_of_image_prefix, select_weights)

T = torch.zeros(1)


def test_each_layout_maps_its_model_keys():
    stage0 = {'clip.image.visual.conv1.weight': T, 'clip.text.text.token_embedding.weight': T,
              'clip.logit_scale': T, 'clip.logit_scale_x': T}
    assert list(select_weights(stage0, 'stage0')) == [
        'visual.conv1.weight', 'text.token_embedding.weight', 'logit_scale']
    assert list(select_weights({'student.visual.proj': T, 'other.w': T}, 'stage2')) == ['visual.proj']
    assert list(select_weights({'refiner.out.weight': T}, 'stage1')) == ['out.weight']
    assert list(select_weights({'backbone.tower.visual.proj': T, 'neck.w': T},
                               'backbone')) == ['visual.proj']
    assert list(select_weights({'clip.image.visual.proj': T}, 'clip_towers', under='clip.')) == [
        'visual.proj']
    # DDP's module. is stripped before any layout applies
    wrapped = extract_state_dict({'state_dict': {'module.student.visual.proj': T}})
    assert list(select_weights(wrapped, 'stage2')) == ['visual.proj']


def test_a_file_of_another_layout_is_named():
    with pytest.raises(CheckpointError, match=r"'x.pth' is not a stage-2 .*looks like a stage-1"):
        select_weights({'refiner.out.weight': T}, 'stage2', source="'x.pth'")
    with pytest.raises(CheckpointError, match=r"top-level prefixes are \['foo.'\]"):
        select_weights({'foo.w': T}, 'stage1')
    with pytest.raises(KeyError, match='known'):
        select_weights({}, 'stage9')
    assert identify_layouts({'student.visual.proj': T, 'refiner.out.weight': T}) == ['stage2', 'stage1']


def test_clip_prefixes_come_from_the_table():
    assert clip_image_prefixes()[0] == 'student.'
    assert set(clip_image_prefixes()) == {'student.', 'clip.image.', 'image.', 'backbone.tower.'}
    assert layout_of_image_prefix('clip.image.') == 'stage0'
    assert layout_of_image_prefix('teacher.') is None
    assert set(LAYOUTS) >= {'stage0', 'stage1', 'stage2', 'backbone'}
    # several towers in one file: the stage-2 student wins over a detector's tower
    both = {'backbone.tower.visual.conv1.weight': T, 'student.visual.conv1.weight': T + 1}
    assert strip_clip_prefix(both)['visual.conv1.weight'] == 1


def test_a_stage0_training_checkpoint_loads_both_towers(tmp_path):
    torch.manual_seed(0)
    clip = build_clip(tiny_arch('openai'))
    state = {**{'clip.image.' + k: v for k, v in clip.image.state_dict().items()},
             **{'clip.text.' + k: v for k, v in clip.text.state_dict().items()},
             'clip.logit_scale': torch.tensor(3.0)}
    path = tmp_path / 'iter_4.pth'
    torch.save(dict(state_dict=state, meta=dict(iter=4)), path)
    loaded = build_clip(tiny_arch('openai'), str(path))
    assert loaded.logit_scale.item() == 3.0
    for key, value in clip.text.state_dict().items():
        torch.testing.assert_close(loaded.text.state_dict()[key], value, rtol=0, atol=0)
    tower = build_image_tower(tiny_arch('openai'), str(path))
    torch.testing.assert_close(tower.visual.conv1.weight, clip.image.visual.conv1.weight)
