"""SigLIP 2 text side, offline (docs/towers.md, "SigLIP 2 from local files"): the tiny
SigLIP-2-shaped CLIP with a tokenizer trained here, saved as open_clip's model folder, through the
text tower, the class-embedding tool, the vocabulary encoder and the conversion back to a folder
plain open_clip loads. Plain open_clip finds the tiny timm trunk of these folders because
importing ``refclip_mm.clip`` registers it with timm (a real SigLIP 2 folder names timm's own)."""
import copy
import json
import math
import os
import os.path as osp
import shutil
import sys

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from refclip_mm.clip import (VocabularyEncoder, build_clip, build_text_tower, export_local_dir,
                             load_class_embeddings, make_tiny_clip, make_tiny_siglip2_folder,
                             read_clip_state_dict, tiny_arch)
from refclip_mm.clip.convert import SIGLIP_PREPROCESS, save_local_dir

TOOLS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools')
sys.path.insert(0, TOOLS)
from build_text_embeddings import main as build_embeddings  # noqa: E402
from convert_checkpoint import main as convert  # noqa: E402

TEXTS = ['a photo of a cat.', 'A Remote_Control!', 'zebra', 'there is a dog in the scene.']
SCALE, BIAS = 20.0, -7.5


@pytest.fixture(scope='module')
def siglip(tmp_path_factory):
    """``(folder, open_clip model)``: the tiny SigLIP 2 folder, every weight jittered (so every
    bias and norm takes part) and a logit scale and bias of their own."""
    folder = str(tmp_path_factory.mktemp('siglip2') / 'tiny-siglip2')
    _, model = make_tiny_siglip2_folder(folder, seed=0)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.2 * torch.randn(param.shape, generator=generator))
        model.logit_scale.fill_(math.log(SCALE))
        model.logit_bias.fill_(BIAS)
    save_local_dir(folder, model.state_dict(), tiny_arch('siglip2'), tokenizer_dir=folder,
                   preprocess_cfg=SIGLIP_PREPROCESS)
    return folder, model.eval()


def _open_clip(folder):
    model, _, preprocess = open_clip.create_model_and_transforms('local-dir:' + folder)
    return model.eval(), open_clip.get_tokenizer('local-dir:' + folder), preprocess


def test_folder_and_tokenizer(siglip):
    folder, _ = siglip
    assert sorted(n for n in os.listdir(folder) if not n.startswith('.')) == [
        'open_clip_config.json', 'open_clip_model.safetensors', 'tokenizer.json',
        'tokenizer_config.json']
    tower = build_text_tower('local-dir:' + folder)
    tokens = tower.tokenizer(TEXTS)
    assert tokens.shape == (4, 16) and int(tokens.max()) < 1000
    assert torch.equal(tokens, open_clip.get_tokenizer('local-dir:' + folder)(TEXTS))
    # SigLIP's canonicalisation: case, punctuation and underscores do not matter
    assert torch.equal(tower.tokenizer(['a remote control']), tokens[1:2])
    # one <eos> (id 1) after the text, then <pad> (id 0) to the context length
    lengths = (tokens != 0).sum(dim=1)
    assert all(int(tokens[i, lengths[i] - 1]) == 1 for i in range(4))
    assert tower.pad_id == 0 and not tower.trimmable


@torch.no_grad()
def test_text_tower_is_open_clips_encode_text(siglip):
    folder, ref = siglip
    tower = build_text_tower('local-dir:' + folder)
    plain, tokenizer, _ = _open_clip(folder)
    ours = tower.encode_text(TEXTS)
    assert ours.shape == (4, 32)
    torch.testing.assert_close(ours, plain.encode_text(tokenizer(TEXTS)), rtol=0, atol=1e-5)
    torch.testing.assert_close(ours, ref.encode_text(tokenizer(TEXTS)), rtol=0, atol=1e-5)
    # written out: no causal mask, the last context position (padding included) pooled
    text = tower.text
    tokens = tokenizer(TEXTS)
    x = text.token_embedding(tokens) + text.positional_embedding
    x = text.ln_final(text.transformer(x, attn_mask=None))
    torch.testing.assert_close(ours, text.text_projection(x[:, -1]), rtol=0, atol=1e-5)
    causal = text.ln_final(text.transformer(text.token_embedding(tokens) + text.positional_embedding,
                                            attn_mask=text.build_causal_mask()))
    assert (text.text_projection(causal[:, -1]) - ours).abs().max() > 1e-3
    assert torch.equal(tower.encode_text(TEXTS, trim=False), ours)
    copied = copy.deepcopy(tower)
    assert torch.equal(copied.encode_text(TEXTS), ours)


def test_logit_scale_and_bias_are_kept(siglip, tmp_path):
    folder, _ = siglip
    clip = build_clip('local-dir:' + folder)
    assert clip.sigmoid and float(clip.logit_bias.detach()) == BIAS
    assert clip.scores() == pytest.approx(dict(logit_scale=SCALE, logit_bias=BIAS))
    image_only = build_clip('local-dir:' + folder, towers=('image', ))
    assert image_only.text is None and float(image_only.logit_bias.detach()) == BIAS
    path = str(tmp_path / 'openai.pth')
    torch.save(make_tiny_clip('openai').state_dict(), path)
    softmax = build_clip(tiny_arch('openai'), path)
    assert softmax.logit_bias is None and not softmax.sigmoid
    assert softmax.scores()['logit_bias'] is None


@torch.no_grad()
def test_tokenizer_from_an_explicit_folder_or_next_to_the_weights(siglip, tmp_path):
    folder, _ = siglip
    expected = build_text_tower('local-dir:' + folder).encode_text(TEXTS)
    weights = osp.join(folder, 'open_clip_model.safetensors')
    alone = tmp_path / 'weights_only'
    alone.mkdir()
    shutil.copy(weights, alone / 'siglip2.safetensors')
    lone = str(alone / 'siglip2.safetensors')
    for tokenizer_dir in (folder, osp.join(folder, 'tokenizer.json')):
        tower = build_text_tower(tiny_arch('siglip2'), lone, tokenizer_dir=tokenizer_dir)
        torch.testing.assert_close(tower.encode_text(TEXTS), expected, rtol=0, atol=0)
    # a weight file inside the folder finds the tokenizer next to it; the folder itself works too
    for pretrained in (weights, folder):
        tower = build_text_tower(tiny_arch('siglip2'), pretrained)
        torch.testing.assert_close(tower.encode_text(TEXTS), expected, rtol=0, atol=0)
    assert build_clip(None, folder).name == 'local-dir:' + folder


def test_missing_files_are_named_with_how_to_get_them(siglip, tmp_path, monkeypatch):
    folder, _ = siglip
    lone = tmp_path / 'lone'
    lone.mkdir()
    shutil.copy(osp.join(folder, 'open_clip_model.safetensors'), lone / 'w.safetensors')
    fetch = r"snapshot_download\('timm/ViT-B-16-SigLIP2'"
    with pytest.raises(FileNotFoundError, match=r'tokenizer_config\.json and tokenizer\.json.*'
                                                r'tokenizer_dir=FOLDER.*' + fetch):
        build_text_tower(tiny_arch('siglip2'), str(lone / 'w.safetensors'))
    with pytest.raises(FileNotFoundError, match=fetch):
        build_text_tower('ViT-B-16-SigLIP2')

    partial = tmp_path / 'partial'
    shutil.copytree(folder, partial)
    (partial / 'tokenizer.json').unlink()
    with pytest.raises(FileNotFoundError, match=r'lacks tokenizer\.json.*provide .*partial/'
                                                r'tokenizer\.json.*' + fetch):
        build_text_tower('local-dir:' + str(partial))
    (partial / 'open_clip_model.safetensors').unlink()
    with pytest.raises(FileNotFoundError, match=r'holds no weight file: provide .*partial/'
                                                r'open_clip_model\.safetensors.*' + fetch):
        build_clip('local-dir:' + str(partial), towers=('image', ))
    (partial / 'open_clip_config.json').unlink()
    with pytest.raises(FileNotFoundError, match=r'provide .*partial/open_clip_config\.json'):
        build_clip('local-dir:' + str(partial), towers=('image', ))
    with pytest.raises(FileNotFoundError, match=r'no such folder'):
        build_text_tower(tiny_arch('siglip2'), str(lone / 'w.safetensors'),
                         tokenizer_dir=str(tmp_path / 'nowhere'))

    monkeypatch.setitem(sys.modules, 'transformers', None)  # the package is absent
    with pytest.raises(ImportError, match=r'pip install transformers==5\.25\.0'):
        build_text_tower('local-dir:' + folder)


@torch.no_grad()
def test_class_embeddings_and_vocabulary(siglip, tmp_path):
    folder, _ = siglip
    names = tmp_path / 'names.txt'
    names.write_text('cat\nremote_control\nzebra\n')
    out = str(tmp_path / 'emb.pth')
    build_embeddings(['--names', str(names), '--model', 'local-dir:' + folder,
                      '--templates', 'detection', '--out', out])
    loaded = load_class_embeddings(out)
    assert loaded.names == ['cat', 'remote_control', 'zebra'] and loaded.embeddings.shape == (3, 32)
    assert loaded.sigmoid
    assert (loaded.logit_scale, loaded.logit_bias) == pytest.approx((SCALE, BIAS))
    # each row: the normalised mean of open_clip's normalised prompt embeddings
    plain, tokenizer, _ = _open_clip(folder)
    for row, name in zip(loaded.embeddings, ['cat', 'remote control', 'zebra']):
        prompts = [t.replace('{}', name) for t in loaded.templates]
        expected = F.normalize(F.normalize(plain.encode_text(tokenizer(prompts)), dim=-1).mean(0),
                               dim=-1)
        torch.testing.assert_close(row, expected, rtol=0, atol=1e-5)
    assert load_class_embeddings(out, names=['zebra']).logit_bias == pytest.approx(BIAS)

    clip = build_clip('local-dir:' + folder, towers=('text', ))
    encoder = VocabularyEncoder(clip.text, templates='detection', cache_dir=str(tmp_path / 'cache'),
                                **clip.scores())
    words = encoder.encode('cat, remote_control, zebra')
    torch.testing.assert_close(words.embeddings, loaded.embeddings, rtol=0, atol=1e-6)
    assert words.logit_bias == pytest.approx(BIAS)
    again = VocabularyEncoder(clip.text, templates='detection', cache_dir=str(tmp_path / 'cache'),
                              **clip.scores()).encode('cat, remote_control, zebra')
    assert torch.equal(again.embeddings, words.embeddings) and again.logit_bias == pytest.approx(BIAS)
    with pytest.raises(ValueError, match='too long for the text tower'):
        encoder.encode('a very long name of a thing that takes many many tokens')


def _stage2_checkpoint(path, seed):
    """A stage-2 checkpoint as RLATrainer saves it (the student image tower under ``student.``,
    the training config in ``meta.cfg``), the student's image weights jittered."""
    student = make_tiny_clip('siglip2', seed=seed)
    with torch.no_grad():
        for param in student.visual.parameters():
            param.add_(0.1 * torch.randn_like(param))
    state = {'student.' + k: v for k, v in student.state_dict().items() if k.startswith('visual.')}
    cfg = Config(dict(model=dict(type='RLATrainer', clip_model=tiny_arch('siglip2')))).pretty_text
    torch.save(dict(state_dict=state, meta=dict(iter=6, cfg=cfg)), path)
    return student.eval()


@torch.no_grad()
def test_converted_checkpoint_loads_back_in_plain_open_clip(siglip, tmp_path):
    folder, initial = siglip
    stage2 = str(tmp_path / 'stage2.pth')
    student = _stage2_checkpoint(stage2, seed=5)
    out = str(tmp_path / 'converted')
    convert([stage2, out, '--format', 'local-dir', '--initial', folder])

    plain, tokenizer, preprocess = _open_clip(out)
    assert type(plain) is open_clip.CustomTextCLIP
    images = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(plain.encode_image(images), student.encode_image(images),
                               rtol=0, atol=1e-5)
    tokens = tokenizer(TEXTS)
    assert torch.equal(tokens, open_clip.get_tokenizer('local-dir:' + folder)(TEXTS))
    torch.testing.assert_close(plain.encode_text(tokens), initial.encode_text(tokens),
                               rtol=0, atol=1e-5)
    assert float(plain.logit_bias.detach()) == BIAS
    assert float(plain.logit_scale.detach().exp()) == pytest.approx(SCALE)
    assert list(preprocess.transforms[-1].mean) == [0.5, 0.5, 0.5]
    with open(osp.join(out, 'open_clip_config.json'), encoding='utf-8') as f:
        recorded = json.load(f)['refclip_mm']
    assert recorded['format'] == 'local-dir' and recorded['initial'] == folder

    # the package reads the folder back to the same embeddings
    clip = build_clip('local-dir:' + out)
    torch.testing.assert_close(clip.image.encode_image(images), plain.encode_image(images),
                               rtol=0, atol=1e-5)
    torch.testing.assert_close(clip.text.encode_text(TEXTS), plain.encode_text(tokens),
                               rtol=0, atol=1e-5)

    # a SigLIP text tower without its tokenizer cannot make a usable folder
    lone = tmp_path / 'lone'
    lone.mkdir()
    shutil.copy(osp.join(folder, 'open_clip_model.safetensors'), lone / 'initial.safetensors')
    with pytest.raises(FileNotFoundError, match=r'tokenizer_config\.json'):
        convert([stage2, str(tmp_path / 'other'), '--format', 'local-dir',
                 '--initial', str(lone / 'initial.safetensors')])


@torch.no_grad()
def test_a_clip_with_its_own_tokenizer_exports_to_a_folder(tmp_path):
    """An OpenAI-style tiny CLIP (top-level text keys in open_clip's layout, CLIP BPE tokenizer)
    through the same folder writer: open_clip and the package give the same embeddings."""
    ref = make_tiny_clip('openai', seed=2)
    path = str(tmp_path / 'openai.pth')
    torch.save(ref.state_dict(), path)
    name = export_local_dir(str(tmp_path / 'openai'), read_clip_state_dict(path),
                            tiny_arch('openai'), source=path)
    plain, tokenizer, _ = _open_clip(name[len('local-dir:'):])
    assert type(plain) is open_clip.CLIP
    tokens = tokenizer(TEXTS)
    assert tokens.shape == (4, 16)
    torch.testing.assert_close(plain.encode_text(tokens), ref.encode_text(tokens), rtol=0, atol=0)
    clip = build_clip(name)
    torch.testing.assert_close(clip.text.encode_text(TEXTS), ref.encode_text(tokens),
                               rtol=0, atol=1e-5)
    assert clip.logit_bias is None
