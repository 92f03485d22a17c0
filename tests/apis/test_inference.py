"""Open-vocabulary inference on one's own images with one's own words (refclip_mm.apis.inference,
tools/infer.py): tiny random-weight models, images generated here."""
import glob
import importlib.util
import json
import os
import os.path as osp
import shutil
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from refclip_mm.apis.inference import (OVDetInferencer, OVSegInferencer, find_text_tower,
                                       ov_inferencer)
from refclip_mm.clip import VocabularyEncoder, load_class_embeddings, parse_words
from refclip_mm.clip.text import get_templates
from refclip_mm.models.detectors.score_fusion import clip_region_probs

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FVIT = osp.join(REPO, 'configs', 'fvit', 'fvit-faster-rcnn_clip-tiny_1xb4-20i_synthetic-64.py')
TRAINING_FREE = osp.join(REPO, 'configs', 'catseg', 'trainingfree_clip-tiny_synthetic-64.py')
CATSEG = osp.join(REPO, 'configs', 'catseg', 'catseg_clip-tiny_1xb4-20i_synthetic-64.py')
TOOLS = osp.join(REPO, 'tools')


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clip_option(clip_file):
    return {'model.backbone.pretrained': clip_file}


@pytest.fixture(scope='module')
def images(tmp_path_factory, synthetic_root):
    """A folder of 3 scene images, one in a sub-folder."""
    folder = tmp_path_factory.mktemp('my_images')
    val = sorted(glob.glob(osp.join(synthetic_root, 'images', 'val', '*.jpg')))
    shutil.copy(val[0], folder / 'a.jpg')
    shutil.copy(val[1], folder / 'b.jpg')
    os.makedirs(folder / 'more')
    shutil.copy(val[2], folder / 'more' / 'a.jpg')
    return str(folder)


@pytest.fixture(scope='module')
def det(tiny_clip_file):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # no checkpoint: random heads
        return OVDetInferencer(FVIT, templates='single', show_progress=False, device='cpu',
                               cfg_options=clip_option(tiny_clip_file))


@pytest.fixture(scope='module')
def seg(tiny_clip_file):
    return OVSegInferencer(TRAINING_FREE, templates='single', show_progress=False, device='cpu',
                           cfg_options=clip_option(tiny_clip_file))


def count_tower_calls(encoder, monkeypatch):
    calls = []
    original = encoder.tower.encode_text

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(encoder.tower, 'encode_text', counted)
    return calls


def test_words_as_users_write_them():
    assert parse_words('cat . remote control .') == ['cat', 'remote control']
    assert parse_words('cat, remote  control,') == ['cat', 'remote control']
    assert parse_words(['cat', ' hot dog ', 'Cat', 'hot_dog']) == ['cat', 'hot dog']
    assert parse_words('st.bernard, cat') == ['st.bernard', 'cat']
    for empty in (None, '', ' , . ', []):
        with pytest.raises(ValueError, match='empty vocabulary'):
            parse_words(empty)
    with pytest.raises(TypeError, match='list of strings'):
        parse_words([1, 2])


def test_detector_outputs_follow_the_vocabulary(det, images):
    box_head = det.model.roi_head.bbox_head
    widths = []
    handle = box_head.register_forward_hook(lambda m, i, out: widths.append(out[0].shape[1]))
    try:
        two = det(images, texts=['red square', 'blue ring'], pred_score_thr=0.0)
        five = det(images, texts='red square, blue ring, cat, remote control, yellow cross',
                   pred_score_thr=0.0)
    finally:
        handle.remove()
    assert widths == [3] * 3 + [6] * 3  # class scores + background, one forward per image
    assert box_head.num_classes == 5 and box_head.text_embeddings.shape == (5, 32)
    assert det.model.dataset_meta['classes'] == ('red square', 'blue ring', 'cat',
                                                 'remote control', 'yellow cross')
    labels2 = {label for p in two['predictions'] for label in p['labels']}
    labels5 = {label for p in five['predictions'] for label in p['labels']}
    assert labels2 <= {0, 1} and labels5 <= set(range(5)) and max(labels5) >= 2
    record = five['predictions'][0]
    assert record['label_names'] == [record['classes'][k] for k in record['labels']]
    assert len(record['bboxes']) == len(record['scores']) == len(record['labels']) > 0
    assert two['failed'] == [] and len(five['predictions']) == 3


def test_same_words_are_embedded_once(det, monkeypatch, tmp_path):
    calls = count_tower_calls(det.encoder, monkeypatch)
    det.set_vocabulary(['green circle', 'teapot'])
    first = len(calls)
    assert first > 0
    det.set_vocabulary('green circle, teapot')  # the same words, written another way
    det.set_vocabulary('green circle . teapot .')
    assert len(calls) == first
    det.set_vocabulary(['teapot', 'green circle'])  # another vocabulary (the order is the labels)
    assert len(calls) > first
    # on disk: a second encoder of the same tower reads the first one's file
    cache = str(tmp_path / 'cache')
    one = VocabularyEncoder(det.encoder.tower, 'single', cache_dir=cache)
    made = one.encode(['kettle', 'mug'])
    assert len(os.listdir(cache)) == 1
    two = VocabularyEncoder(det.encoder.tower, 'single', cache_dir=cache)
    two.background()  # the background prompt is computed once per encoder, not per vocabulary
    before = len(calls)
    read = two.encode('kettle, mug')
    assert len(calls) == before
    assert torch.equal(read.embeddings, made.embeddings) and read.names == ['kettle', 'mug']


def test_embeddings_are_those_of_build_text_embeddings(det, tiny_clip_file, tmp_path):
    words = ['red square', 'remote control', 'hot dog']
    names = tmp_path / 'words.txt'
    names.write_text('\n'.join(words) + '\n')
    arch = tmp_path / 'arch.json'
    arch.write_text(json.dumps(Config.fromfile(FVIT).model.backbone.clip_model.to_dict()))
    out = str(tmp_path / 'emb.pth')
    load_tool('build_text_embeddings').main([
        '--names', str(names), '--arch-json', str(arch), '--pretrained', tiny_clip_file,
        '--templates', 'single', '--out', out])
    written = load_class_embeddings(out)
    det.set_vocabulary(words)
    mine = det.encoder.encode(words)
    assert torch.equal(mine.embeddings, written.embeddings)
    assert torch.equal(mine.background, written.background)
    head = det.model.roi_head.bbox_head
    assert torch.allclose(head.text_embeddings, written.embeddings, atol=1e-6)
    assert torch.allclose(head.background_embedding, written.background, atol=1e-6)


def test_fusion_treats_words_it_never_trained_on_as_novel(det):
    # training split of the config: 'red square' is base, 'yellow circle' novel
    det.set_vocabulary(['Red Square', 'yellow circle', 'remote control'])
    head = det.model.roi_head.bbox_head
    assert det.base_words == ['Red Square'] and head.base_classes == ['Red Square']
    assert head.novel_classes == ['yellow circle', 'remote control']
    assert head.novel_mask.tolist() == [False, True, True, False]  # background fused as base
    # the fused scores: base column det^(1-alpha) clip^alpha, the others det^(1-beta) clip^beta
    g = torch.Generator().manual_seed(0)
    rois = torch.randn(5, head.in_channels, head.roi_feat_size[0], head.roi_feat_size[1],
                       generator=g)
    regions = torch.randn(5, 32, generator=g)
    head.eval()
    with torch.no_grad():
        fused, _ = head(rois, regions)
        detector, _ = head(rois)
    clip = clip_region_probs(regions, head.all_embeddings, head.clip_temperature)
    alpha, beta = head.alpha, head.beta
    expected = torch.cat([detector[:, :1] ** (1 - alpha) * clip[:, :1] ** alpha,
                          detector[:, 1:3] ** (1 - beta) * clip[:, 1:3] ** beta,
                          detector[:, 3:] ** (1 - alpha) * clip[:, 3:] ** alpha], dim=1)
    assert torch.allclose(fused, expected, atol=1e-6)
    assert alpha != beta


def test_a_vocabulary_of_another_width_is_refused(det):
    from refclip_mm.clip import ClassEmbeddings
    wrong = ClassEmbeddings(['cat'], torch.ones(1, 16), torch.ones(16), ['{}'], 'other')
    with pytest.raises(ValueError, match='needs one 32-d row per name'):
        det.model.roi_head.bbox_head.set_vocabulary(wrong)


def test_base_classes_from_the_checkpoint_or_given(det, tiny_clip_file, tmp_path):
    checkpoint = str(tmp_path / 'fvit.pth')
    state = {k: v + 1 if v.is_floating_point() else v for k, v in det.model.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(
        classes=('blue ring', 'red ring'), base_classes=('blue ring', ), novel_classes=('red ring', )))),
        checkpoint)
    options = dict(clip_option(tiny_clip_file))  # a config that names no classes of its own
    options.update({'model.roi_head.bbox_head.class_names': None,
                    'model.roi_head.bbox_head.novel_classes': None,
                    'model.roi_head.bbox_head.class_embeddings': str(tmp_path / 'absent.pth')})
    loaded = OVDetInferencer(FVIT, checkpoint, texts='blue ring, red ring, cat', templates='single',
                             show_progress=False, device='cpu', cfg_options=options)
    assert loaded.base_words == ['blue ring']
    key = 'roi_head.bbox_head.fc_cls.weight'
    assert torch.equal(loaded.model.state_dict()[key], state[key])  # the checkpoint was loaded
    given = OVDetInferencer(FVIT, checkpoint, texts='blue ring, red ring, cat', templates='single',
                            base_classes=(), show_progress=False, device='cpu',
                            cfg_options=options)
    assert given.base_words == [] and given.model.roi_head.bbox_head.novel_mask[:3].all()


def test_training_free_segmentor_needs_only_the_clip_file(seg, images, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        two = seg(images, texts='red square, background', return_datasamples=True)
    assert not [w for w in caught if 'no checkpoint' in str(w.message)]
    assert all(p.seg_logits.data.shape[0] == 2 and p.pred_sem_seg.data.max() <= 1
               for p in two['predictions'])
    four = seg(osp.join(images, 'a.jpg'), texts=['red square', 'background', 'blue ring', 'sky'],
               out_dir=str(tmp_path))
    assert seg.model.decode_head.num_classes == 4
    (record, ) = four['predictions']
    assert record['sem_seg'].shape == (64, 64) and record['sem_seg'].max() <= 3
    assert sum(record['pixels'].values()) == 64 * 64
    with open(tmp_path / 'preds' / 'a.json') as f:
        written = json.load(f)
    assert written['classes'] == ['red square', 'background', 'blue ring', 'sky']
    label_map = np.array(Image.open(tmp_path / written['sem_seg_file']))
    assert np.array_equal(label_map, record['sem_seg'])
    assert osp.isfile(tmp_path / 'vis' / 'a.jpg')


def test_catseg_segmentor_swaps_its_vocabulary(tiny_clip_file):
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match='no checkpoint given'):
        catseg = ov_inferencer(CATSEG, templates='single', show_progress=False, device='cpu',
                               cfg_options=clip_option(tiny_clip_file))
    assert isinstance(catseg, OVSegInferencer)
    image = np.random.default_rng(0).integers(0, 255, (48, 40, 3), dtype=np.uint8)
    for words in (['red square', 'background', 'blue ring'], ['cat', 'dog', 'sky', 'grass', 'tree']):
        (pred, ) = catseg([image], texts=words, return_datasamples=True)['predictions']
        assert pred.seg_logits.data.shape == (len(words), 48, 40)
        assert catseg.model.decode_head.num_classes == len(words)


def test_folder_with_a_corrupt_image(images, tiny_clip_file, tmp_path, capsys):
    folder = tmp_path / 'folder'
    shutil.copytree(images, folder)
    (folder / 'broken.jpg').write_bytes(b'not an image')
    out = tmp_path / 'out'
    tool = load_tool('infer')
    code = tool.main([str(folder), FVIT, '--words', 'red square, cat', '--out-dir', str(out),
                      '--score-thr', '0.05', '--batch-size', '2', '--no-progress',
                      '--cfg-options', f'model.backbone.pretrained={tiny_clip_file}'])
    captured = capsys.readouterr()
    assert code == 0
    assert 'detection of 3 of 4 images' in captured.out
    assert 'broken.jpg: cannot be decoded as an image' in captured.err
    for name in ('a', 'b', 'more/a'):
        assert osp.isfile(out / 'vis' / f'{name}.jpg')
        with open(out / 'preds' / f'{name}.json') as f:
            record = json.load(f)
        assert record['classes'] == ['red square', 'cat'] and record['base_classes'] == ['red square']
        assert all(score >= 0.05 for score in record['scores'])
    assert not glob.glob(str(out / '*' / 'broken*'))
    # nothing readable: reported, exit status 1
    only_bad = tmp_path / 'bad'
    only_bad.mkdir()
    shutil.copy(folder / 'broken.jpg', only_bad / 'x.png')
    code = tool.main([str(only_bad), TRAINING_FREE, '--words', 'cat, dog', '--out-dir', str(out),
                      '--no-progress', '--cfg-options', f'model.backbone.pretrained={tiny_clip_file}'])
    assert code == 1 and 'x.png: cannot be decoded' in capsys.readouterr().err


def visual_only_checkpoint(clip_file, path):
    """A checkpoint holding the image tower only (as a trained segmentor's does)."""
    state = torch.load(clip_file, weights_only=True)
    state = state.get('state_dict', state)
    torch.save({'state_dict': {f'backbone.tower.{k}': v for k, v in state.items()
                               if k.startswith('visual.')}}, path)
    return path


@pytest.mark.parametrize('case, message', [
    ('empty vocabulary', 'empty vocabulary: give at least one word'),
    ('word too long', "too long for the text tower: its prompt 'a photo of a a photo of a cat"),
    ('one word', 'give at least two (e.g. "cat, background")'),
    ('no images', 'no images with suffix'),
    ('no words file', 'class-name file not found'),
    ('no text tower', 'no CLIP text tower to embed the words'),
])
def test_tool_errors_name_what_to_fix(case, message, images, tiny_clip_file, tmp_path, capsys):
    inputs, checkpoint, words = images, [], ['--words', 'cat, dog']
    options = ['--cfg-options', f'model.backbone.pretrained={tiny_clip_file}']
    if case == 'empty vocabulary':
        words = ['--words', ' , . ']
    elif case == 'word too long':
        words = ['--words', 'dog, a photo of a cat sitting on the mat next to a red remote control']
    elif case == 'one word':
        words = ['--words', 'cat']
    elif case == 'no images':
        inputs = str(tmp_path / 'empty')
        os.makedirs(inputs)
    elif case == 'no words file':
        words = ['--words-file', str(tmp_path / 'absent.txt')]
    elif case == 'no text tower':  # no CLIP file in the config, none in the checkpoint
        checkpoint = [visual_only_checkpoint(tiny_clip_file, str(tmp_path / 'visual_only.pth'))]
        options = ['--cfg-options', 'model.backbone.pretrained=None']
    tool = load_tool('infer')
    common = ['--out-dir', str(tmp_path / 'out'), '--templates', 'single', '--no-progress']
    code = tool.main([inputs, TRAINING_FREE] + checkpoint + words + common + options)
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    if case == 'no text tower':  # the message names the fix, and the fix works
        assert '--clip-weights' in err
        code = tool.main([inputs, TRAINING_FREE] + checkpoint + words + common + options
                         + ['--clip-weights', tiny_clip_file])
        assert code == 0


def test_text_tower_sources(tiny_clip_file, tmp_path):
    cfg = Config.fromfile(TRAINING_FREE)
    cfg.model.backbone.pretrained = tiny_clip_file
    tower, source = find_text_tower(cfg)
    assert source == tiny_clip_file and tower.embed_dim == 32
    cfg.model.backbone.pretrained = None
    with pytest.raises(ValueError, match='pretrained is None and no checkpoint'):
        find_text_tower(cfg)
    assert find_text_tower(cfg, checkpoint=tiny_clip_file)[1] == tiny_clip_file
    with pytest.raises(ValueError, match="clip_weights 'nope.pth': file not found"):
        find_text_tower(cfg, clip_weights='nope.pth')


@torch.no_grad()
def test_text_tower_from_an_open_clip_model_folder(tmp_path):
    """A SigLIP 2 model folder ('local-dir:FOLDER' or the folder itself) gives its text tower
    with the folder's own tokenizer; its architecture where the backbone names none."""
    import open_clip

    from refclip_mm.clip import tiny_arch
    from refclip_mm.clip.tiny import make_tiny_siglip2_folder
    folder = str(tmp_path / 'siglip2')
    name, model = make_tiny_siglip2_folder(folder, seed=3)
    words = ['red square', 'remote control']
    expected = model.encode_text(open_clip.get_tokenizer(name)(words))
    cfg = Config.fromfile(TRAINING_FREE)
    cfg.model.backbone.pretrained = None
    cfg.model.backbone.clip_model = tiny_arch('siglip2')
    for given in (name, folder):
        tower, source = find_text_tower(cfg, clip_weights=given)
        assert source == given
        torch.testing.assert_close(tower.encode_text(words), expected)
    cfg.model.backbone.clip_model = None  # the folder's open_clip_config.json
    cfg.model.backbone.pretrained = name
    tower, source = find_text_tower(cfg)
    assert source == name
    torch.testing.assert_close(tower.encode_text(words), expected)
    os.remove(osp.join(folder, 'open_clip_model.safetensors'))
    with pytest.raises(ValueError, match='holds no weight file'):
        find_text_tower(cfg)


def test_templates_default_to_the_config_file(tiny_clip_file, tmp_path):
    from factories import text_embeddings_file
    path = str(tmp_path / 'emb.pth')
    text_embeddings_file(path, ['red square'], tiny_clip_file, templates=['a drawing of a {}.'])
    options = dict(clip_option(tiny_clip_file))
    options['model.decode_head.test_class_embeddings'] = path
    from_file = OVSegInferencer(TRAINING_FREE, show_progress=False, device='cpu',
                                cfg_options=options)
    assert from_file.encoder.templates == ['a drawing of a {}.']
    default = OVSegInferencer(TRAINING_FREE, show_progress=False, device='cpu',
                              cfg_options=clip_option(tiny_clip_file))
    assert default.encoder.templates == get_templates('imagenet80')
    assert default.encoder.encode('cat').embeddings.shape == (1, 32)
    with pytest.raises(ValueError, match='no vocabulary: give the words'):
        default(np.zeros((32, 32, 3), np.uint8))


def test_building_logs_nothing_to_act_on(tiny_clip_file, capsys):
    """No warning about a visualizer backend or the collate function's registry scope."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        OVSegInferencer(TRAINING_FREE, templates='single', show_progress=False, device='cpu',
                        cfg_options=clip_option(tiny_clip_file))
    printed = capsys.readouterr()
    assert not [w for w in caught if 'vis_backend' in str(w.message).lower()
                or 'save_dir' in str(w.message)]
    assert 'registry tree' not in printed.out + printed.err


def test_a_text_tower_of_another_architecture_is_named(tiny_clip_file, tmp_path):
    """A CLIP file whose text tower is not the backbone's architecture fails naming the file
    and the mismatch, and how to name the right one."""
    from refclip_mm.clip import save_tiny_clip
    other = str(tmp_path / 'siglip2_tiny.pth')
    save_tiny_clip(other, 'siglip2')  # another tokenizer and text width layout
    cfg = Config.fromfile(TRAINING_FREE)
    cfg.model.backbone.pretrained = tiny_clip_file
    with pytest.raises(ValueError) as err:
        find_text_tower(cfg, clip_weights=other)
    message = str(err.value)
    assert other in message and 'another architecture' in message and 'clip_weights' in message
