"""Prompt templates, class embeddings and the class-embedding file."""
import pytest
import torch
import torch.nn.functional as F

from refclip_mm.clip import (ClassEmbeddings, build_class_embeddings, build_text_tower,
                             get_class_names, get_templates, load_class_embeddings,
                             make_class_embeddings, save_class_embeddings, tiny_arch)
from refclip_mm.clip.class_names import BACKGROUND_NAMES, read_class_names
from refclip_mm.utils.checkpoint import CheckpointError, load_checkpoint_file


@pytest.fixture(scope='module')
def text_tower(weights):
    path, _ = weights('openai')
    return build_text_tower(tiny_arch('openai'), path)


def test_template_sets():
    assert get_templates('single') == ['a photo of a {}.']
    imagenet = get_templates('imagenet80')
    assert len(imagenet) == 80 and all(t.count('{}') == 1 for t in imagenet)
    detection = get_templates('detection')
    assert len(detection) >= 10 and all(t.count('{}') == 1 for t in detection)
    assert get_templates(['a {} here.']) == ['a {} here.']
    with pytest.raises(ValueError, match='unknown template set'):
        get_templates('imagenet81')
    with pytest.raises(ValueError, match='exactly one'):
        get_templates(['no placeholder'])


def test_class_embeddings_are_template_averages(text_tower):
    names = ['dog', 'traffic_light']
    emb = build_class_embeddings(text_tower, names, 'detection', batch_size=5)
    assert emb.shape == (2, 32)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-5)
    templates = get_templates('detection')
    prompts = [t.replace('{}', 'traffic light') for t in templates]
    with torch.no_grad():
        manual = F.normalize(text_tower.encode_text(prompts, normalize=True).mean(0), dim=0)
    assert torch.allclose(emb[1], manual, atol=1e-5)
    single = build_class_embeddings(text_tower, names, 'single')
    assert not torch.allclose(single, emb, atol=1e-3)


def test_file_roundtrip_through_safe_loader(text_tower, tmp_path):
    made = make_class_embeddings(text_tower, ['cat', 'dog', 'bird'], 'single', model='tiny')
    path = str(tmp_path / 'emb.pth')
    save_class_embeddings(path, made)
    raw = load_checkpoint_file(path)
    assert raw['names'] == ['cat', 'dog', 'bird'] and raw['model'] == 'tiny'
    assert raw['embeddings'].shape == (3, 32) and raw['background'].shape == (32, )
    loaded = load_class_embeddings(path)
    assert torch.equal(loaded.embeddings, made.embeddings)
    assert torch.allclose(loaded.background.norm(), torch.tensor(1.0), atol=1e-5)
    subset = load_class_embeddings(path, names=['bird', 'cat'])
    assert torch.equal(subset.embeddings, made.embeddings[[2, 0]])
    with pytest.raises(KeyError, match=r"\['horse'\]"):
        loaded.select(['cat', 'horse'])
    with pytest.raises(ValueError, match='duplicate'):
        make_class_embeddings(text_tower, ['cat', 'cat'])


def test_bad_embedding_files(tmp_path):
    path = tmp_path / 'bad.pth'
    torch.save({'names': ['a']}, path)
    with pytest.raises(CheckpointError, match='not a class-embedding file'):
        load_class_embeddings(str(path))
    torch.save(ClassEmbeddings(['a', 'b'], torch.zeros(3, 4), torch.zeros(4), [], 'm').to_dict(), path)
    with pytest.raises(CheckpointError, match='do not fit'):
        load_class_embeddings(str(path))


def test_builtin_class_lists():
    coco, ade = get_class_names('coco'), get_class_names('ade20k')
    assert len(coco) == 80 and coco[0] == 'person'
    assert len(ade) == 150 and ade[0] == 'wall'
    assert len(get_class_names('lvis')) == 1203
    assert 'background' not in get_class_names('pascal_voc20')
    with pytest.raises(ValueError, match='no builtin class list'):
        get_class_names('imagenet-22k')


def test_select_rows_by_name_with_background_fallback():
    emb = F.normalize(torch.randn(3, 4), dim=-1)
    bank = ClassEmbeddings(['cat', 'dog', 'bird'], emb, emb.new_tensor([1., 0, 0, 0]), [], 'm')
    assert torch.equal(bank.select(['bird', 'cat']), emb[[2, 0]])
    rows = bank.select(['dog', 'background'], background_names=BACKGROUND_NAMES)
    assert torch.equal(rows, torch.stack([emb[1], bank.background]))
    with pytest.raises(KeyError, match=r"'x\.pth' has no embedding for 1 of the 2 .*\['background'\]"):
        bank.select(['dog', 'background'], source='x.pth')


def test_one_reader_for_class_name_files(tmp_path):
    text = tmp_path / 'names.txt'
    text.write_text('# classes\n wall \r\n\nhot_dog\n\n')
    assert read_class_names(str(text)) == ['wall', 'hot_dog']
    with pytest.raises(ValueError, match=r'blank lines \[3\].*label order'):
        read_class_names(str(text), label_order=True)
    text.write_text('wall\nfloor\n\n')
    assert read_class_names(str(text), label_order=True) == ['wall', 'floor']
    listed = tmp_path / 'names.json'
    listed.write_text('["a b", "c"]')
    assert read_class_names(str(listed)) == ['a b', 'c']
    listed.write_text('{"a": 1}')
    with pytest.raises(ValueError, match='JSON list of class names'):
        read_class_names(str(listed))
    listed.write_text('["a", ')
    with pytest.raises(ValueError, match='not valid JSON'):
        read_class_names(str(listed))
    text.write_text('# nothing\n\n')
    with pytest.raises(ValueError, match='lists no class names'):
        read_class_names(str(text))
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        read_class_names(str(tmp_path / 'nope.txt'))


PROMPTS = ['a photo of a dog.', 'cat', 'a blurry photo of a traffic light in the scene.',
           'an image that contains a very small hot dog next to a red fire hydrant on a road.']


def _transformer_lengths(tower):
    """Records the sequence length of every input to the tower's transformer."""
    seen = []
    handle = tower.text.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(args[0].shape[1]), with_kwargs=True)
    return seen, handle


@pytest.mark.parametrize('model', ['tiny-openai', 'tiny-eva', 'ViT-B-16'])
def test_trimmed_text_forward_matches_open_clip(model, weights):
    if model == 'ViT-B-16':  # full-size context (77) with random weights
        torch.manual_seed(0)
        tower = build_text_tower('ViT-B-16')
    else:
        kind = model.split('-')[1]
        tower = build_text_tower(tiny_arch(kind), weights(kind)[0])
    assert tower.trimmable
    tokens = tower.tokenizer(PROMPTS)
    seen, handle = _transformer_lengths(tower)
    with torch.no_grad():
        full = tower.encode_text(tokens, trim=False)
        trimmed = tower.encode_text(tokens)
        short = tower.encode_text(tokens[:2])
    handle.remove()
    context = tokens.shape[1]
    longest = int((tokens != 0).sum(dim=1).max())
    assert seen == [context, longest, int((tokens[:2] != 0).sum(dim=1).max())]
    if model == 'ViT-B-16':
        assert seen[1] < context  # the full-size context really is cut
    torch.testing.assert_close(trimmed, full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(short, full[:2], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(full[0], full[1], atol=1e-3)


def test_class_embeddings_sorted_and_trimmed_match_the_plain_path(text_tower):
    names = ['dog', 'traffic_light', 'a', 'fire hydrant on the side of the road']
    seen, handle = _transformer_lengths(text_tower)
    fast = build_class_embeddings(text_tower, names, 'detection', batch_size=7)
    batches = len(seen)
    slow = build_class_embeddings(text_tower, names, 'detection', batch_size=7, trim=False)
    handle.remove()
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    assert seen[:batches] == sorted(seen[:batches])  # shortest prompts first
    assert max(seen[:batches]) == seen[-1] == 16 and min(seen[:batches]) < 16


def test_class_embedding_file_goes_into_a_new_folder(tmp_path):
    from refclip_mm.clip.text import ClassEmbeddings, load_class_embeddings, save_class_embeddings
    emb = ClassEmbeddings(['a', 'b'], torch.nn.functional.normalize(torch.randn(2, 8), dim=-1),
                          torch.nn.functional.normalize(torch.randn(8), dim=-1), ['{}'], 'm')
    path = tmp_path / 'not' / 'yet' / 'there.pth'
    save_class_embeddings(str(path), emb)
    assert load_class_embeddings(str(path)).names == ['a', 'b']
