"""tools/convert_checkpoint.py --format open_clip: the file plain open_clip loads."""
import json
import os.path as osp
import sys

import open_clip
import pytest
import torch
from mmengine.config import Config

from refclip_mm.clip import make_tiny_clip, tiny_arch
from refclip_mm.clip.convert import to_open_clip_state_dict

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools'))
from convert_checkpoint import main as convert  # noqa: E402


@pytest.fixture(scope='module')
def open_clip_names(tmp_path_factory):
    """The tiny archs registered with open_clip as model configs: ``{kind: name}``."""
    root = tmp_path_factory.mktemp('open_clip_configs')
    names = {}
    for kind in ('openai', 'eva'):
        names[kind] = f'refclip-test-tiny-{kind}'
        (root / f'{names[kind]}.json').write_text(json.dumps(tiny_arch(kind)))
    open_clip.add_model_config(str(root))
    return names


def _stage2_checkpoint(path, kind, seed):
    """A stage-2 checkpoint as RLATrainer saves it: the student image tower under ``student.``,
    the training config (its CLIP architecture) in ``meta.cfg`` as mmengine's Runner records it."""
    student = make_tiny_clip(kind, seed=seed)
    state = {'student.' + k: v for k, v in student.state_dict().items() if k.startswith('visual.')}
    cfg = Config(dict(model=dict(type='RLATrainer', clip_model=tiny_arch(kind)))).pretty_text
    torch.save(dict(state_dict=state, meta=dict(iter=6, cfg=cfg)), path)
    return student


def test_open_clip_format_loads_with_plain_create_model(kind, weights, open_clip_names, tmp_path):
    initial_path, initial = weights(kind)
    stage2 = str(tmp_path / 'stage2.pth')
    student = _stage2_checkpoint(stage2, kind, seed=1)
    out = str(tmp_path / 'open_clip.pth')
    convert([stage2, out, '--format', 'open_clip', '--initial', initial_path])

    model = open_clip.create_model(open_clip_names[kind], pretrained=out).eval()
    assert type(model) is type(initial)  # CLIP for the OpenAI arch, CustomTextCLIP for EVA
    loaded = model.state_dict()
    for key, value in student.state_dict().items():
        if key.startswith('visual.'):
            torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    tokens = open_clip.SimpleTokenizer(context_length=16)(['a photo of a red square.', 'grass'])
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(tokens), initial.encode_text(tokens))
        images = torch.randn(2, 3, 32, 32)
        torch.testing.assert_close(model.encode_image(images), student.encode_image(images))
    torch.testing.assert_close(model.logit_scale, initial.logit_scale)


def test_open_clip_format_with_averaging(weights, open_clip_names, tmp_path):
    initial_path, initial = weights('openai')
    stage2 = str(tmp_path / 'stage2.pth')
    student = _stage2_checkpoint(stage2, 'openai', seed=2)
    out = str(tmp_path / 'averaged.pth')
    convert([stage2, out, '--format', 'open_clip', '--initial', initial_path, '--alpha', '0.7'])
    model = open_clip.create_model(open_clip_names['openai'], pretrained=out)
    key = 'visual.transformer.resblocks.1.attn.in_proj_weight'
    expected = 0.7 * student.state_dict()[key] + 0.3 * initial.state_dict()[key]
    torch.testing.assert_close(model.state_dict()[key], expected)
    torch.testing.assert_close(model.state_dict()['token_embedding.weight'],
                               initial.state_dict()['token_embedding.weight'], rtol=0, atol=0)


def test_layout_moves_only_open_clip_text_towers():
    own = {'visual.proj': torch.zeros(1), 'text.token_embedding.weight': torch.zeros(1),
           'text.positional_embedding': torch.zeros(1), 'text.transformer.resblocks.0.ln_1.weight':
           torch.zeros(1), 'text.ln_final.bias': torch.zeros(1), 'text.text_projection': torch.zeros(1),
           'logit_scale': torch.zeros(())}
    assert list(to_open_clip_state_dict(own)) == [
        'visual.proj', 'token_embedding.weight', 'positional_embedding',
        'transformer.resblocks.0.ln_1.weight', 'ln_final.bias', 'text_projection', 'logit_scale']
    # a Hugging Face text tower only exists under text. (CustomTextCLIP): left alone
    hf = {'visual.proj': torch.zeros(1), 'text.transformer.embeddings.word_embeddings.weight':
          torch.zeros(1), 'text.proj.0.weight': torch.zeros(1)}
    assert list(to_open_clip_state_dict(hf)) == list(hf)
