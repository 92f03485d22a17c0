"""The package's one checkpoint loader: safe by default, clear when a file does not fit."""
import collections
import random

import numpy as np
import pytest
import torch
from torch import nn

from refclip_mm.utils.checkpoint import (CheckpointError, extract_state_dict, load_checkpoint_file,
                                         load_state_dict_checked)


def tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def test_pth_round_trip_with_mmengine_metadata(tmp_path):
    """mmengine-style checkpoint (HistoryBuffer, numpy arrays/scalars in meta) loads with weights_only."""
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('ckpt-test')
    for i in range(3):
        hub.update_scalar('train/loss', float(i))
    net = tiny_net()
    ckpt = dict(meta=dict(epoch=1, iter=3, seed=np.int64(7), mean=np.float64(0.5),
                          arr=np.arange(3), dataset_meta=dict(classes=('a', 'b'))),
                state_dict=net.state_dict(), message_hub=hub.state_dict())
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)
    loaded = load_checkpoint_file(str(path))
    assert loaded['meta']['iter'] == 3
    assert loaded['meta']['seed'] == 7
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 2.0
    torch.testing.assert_close(loaded['state_dict']['0.weight'], net[0].weight)


def test_mmengine_load_checkpoint_uses_the_safe_loader(tmp_path):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import _load_checkpoint

    import refclip_mm  # noqa: F401  (installs the loader)
    path = tmp_path / 'iter_5.pth'
    torch.save(dict(state_dict=tiny_net().state_dict(), message_hub=dict(b=HistoryBuffer([1.0], [1]))),
               path)
    assert set(_load_checkpoint(str(path), map_location='cpu')) == {'state_dict', 'message_hub'}


class NotAllowed:
    def __init__(self):
        self.payload = 1


def test_unknown_pickled_object_is_refused_with_its_name(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, extra=NotAllowed()), path)
    with pytest.raises(CheckpointError, match='NotAllowed'):
        load_checkpoint_file(str(path))


def test_safetensors_and_torchscript(tmp_path):
    from safetensors.torch import save_file
    net = tiny_net()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / 'w.safetensors')
    loaded = load_checkpoint_file(str(tmp_path / 'w.safetensors'))
    torch.testing.assert_close(loaded['2.bias'], net[2].bias)
    torch.jit.save(torch.jit.script(net), str(tmp_path / 'jit.pt'))
    scripted = load_checkpoint_file(str(tmp_path / 'jit.pt'))
    torch.testing.assert_close(scripted['0.weight'], net[0].weight)


def test_missing_corrupt_and_truncated_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
    garbage = tmp_path / 'garbage.pth'
    for seed in range(20):  # random bytes fail at any point of the unpickler, each one named
        garbage.write_bytes(random.Random(seed).randbytes(256))
        with pytest.raises(CheckpointError, match='garbage.pth'):
            load_checkpoint_file(str(garbage))
    garbage.write_bytes(b'\x80\x02s.')  # a SETITEM on an empty stack: IndexError in the unpickler
    with pytest.raises(CheckpointError, match='garbage.pth.*IndexError'):
        load_checkpoint_file(str(garbage))
    good = tmp_path / 'good.pth'
    torch.save(tiny_net().state_dict(), good)
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match='truncated.pth'):
        load_checkpoint_file(str(truncated))
    broken_st = tmp_path / 'broken.safetensors'
    broken_st.write_bytes(b'\x00' * 16)
    with pytest.raises(CheckpointError, match='broken.safetensors'):
        load_checkpoint_file(str(broken_st))


def test_extract_state_dict_unwraps_and_strips():
    w = torch.ones(2)
    nested = dict(meta={}, state_dict=collections.OrderedDict([('module.a.weight', w)]))
    assert list(extract_state_dict(nested)) == ['a.weight']
    assert list(extract_state_dict(dict(model=dict(x=w)))) == ['x']
    sd = dict([('student.blocks.0.w', w), ('teacher.blocks.0.w', w)])
    assert list(extract_state_dict(sd, prefix='student.')) == ['blocks.0.w']
    with pytest.raises(CheckpointError, match="'student.', 'teacher.'"):
        extract_state_dict(sd, prefix='visual.')


def test_mismatched_checkpoint_names_keys_and_shapes():
    net = tiny_net()
    sd = net.state_dict()
    sd['extra.weight'] = torch.zeros(1)
    del sd['2.bias']
    with pytest.raises(CheckpointError) as err:
        load_state_dict_checked(net, sd, source='my.pth')
    message = str(err.value)
    assert 'my.pth' in message and "missing keys: 2.bias" in message
    assert 'unexpected keys: extra.weight' in message
    other = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)).state_dict()
    with pytest.raises(CheckpointError, match=r'0.weight: file \(5, 4\) vs model \(3, 4\)'):
        load_state_dict_checked(net, other, strict=False)
    # non-strict loading reports but accepts missing/unexpected keys
    report = load_state_dict_checked(net, sd, strict=False)
    assert report['missing'] == ['2.bias'] and report['unexpected'] == ['extra.weight']


def test_getattr_in_a_pickle_is_limited_to_history_buffer_methods(tmp_path):
    """A crafted pickle that uses getattr to reach other attributes is refused."""
    import pickle

    from mmengine.logging import HistoryBuffer

    class Reach:  # pickles as getattr(HistoryBuffer, '__init__')
        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')
    path = tmp_path / 'reach.pth'
    with open(path, 'wb') as f:
        pickle.dump(dict(x=Reach()), f, protocol=2)
    with pytest.raises(CheckpointError, match='__init__'):
        load_checkpoint_file(str(path))
