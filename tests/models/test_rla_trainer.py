"""Stage-2 model: frozen parts, CLIPSelf / RegionCLIP losses, the loss-term extension point."""
import pytest
import torch
from factories import text_embeddings_file
from mmengine.structures import BaseDataElement

from refclip_mm.clip import TINY_OPENAI_ARCH
from refclip_mm.models.trainers import RLATrainer


def samples(num_images, boxes):
    out = []
    for i in range(num_images):
        sample = BaseDataElement(metainfo=dict(img_path=f'img{i}.jpg'))
        sample.boxes = torch.as_tensor(boxes, dtype=torch.float32)
        out.append(sample)
    return out


BOXES = [[0, 0, 32, 32], [32, 0, 64, 32], [0, 32, 64, 64]]


def tiny(**kwargs):
    torch.manual_seed(0)
    return RLATrainer(clip_model=TINY_OPENAI_ARCH, **kwargs)


def test_only_the_blocks_train_and_the_initial_tower_is_not_a_submodule():
    model = tiny()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all('.resblocks.' in n for n in trainable)
    assert all(k.startswith('student.') for k in model.state_dict())
    assert model.teacher_input_size == 32  # the tiny tower's native size


def test_clipself_step_trains_the_student_toward_the_teacher_crops():
    model = tiny()
    initial = model.initial_tower.checksum()
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    batch = samples(2, BOXES)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    first = model.loss(images, batch)
    assert set(first) == {'loss_clipself', 'region_cos'}
    for _ in range(10):
        opt.zero_grad()
        model.loss(images, batch)['loss_clipself'].backward()
        opt.step()
    last = model.loss(images, batch)
    assert last['loss_clipself'] < first['loss_clipself']
    assert model.initial_tower.checksum() == initial


def test_teacher_crops_enlarge_around_the_box_and_stay_inside(monkeypatch):
    from refclip_mm.models.trainers import rla_trainer
    images = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))  # H 48, W 64
    rois = torch.tensor([[0., 24., 16., 40., 32.],   # inside: 1.5x -> 20..44 x 12..36
                         [0., 0., 0., 16., 24.],     # 1.5x -> -4..20 x -6..30, clipped at 0
                         [0., 50., 30., 62., 46.]])  # 1.5x -> 47..65 x 26..50, clipped at W, H
    enlarged_boxes = torch.tensor([[0., 20., 12., 44., 36.], [0., 0., 0., 20., 30.],
                                   [0., 47., 26., 64., 48.]])
    seen, crop_regions = [], rla_trainer.crop_regions

    def recording(images, boxes, size, sampling_ratio):  # the boxes the crops are cut from
        crops = crop_regions(images, boxes, size, sampling_ratio)
        seen.append((boxes.clone(), crops))
        return crops
    monkeypatch.setattr(rla_trainer, 'crop_regions', recording)
    plain_model, model = tiny(crop_enlarge=1.0), tiny(crop_enlarge=1.5)
    given = rois.clone()
    plain = plain_model.teacher_crop_embeddings(images, rois)
    enlarged = model.teacher_crop_embeddings(images, rois)
    assert torch.equal(rois, given)  # the caller's boxes are not modified
    torch.testing.assert_close(seen[0][0], rois)  # factor 1: the boxes themselves
    torch.testing.assert_close(seen[1][0], enlarged_boxes)  # the box x 1.5 around its centre
    assert enlarged.shape == plain.shape == (3, 32)

    def embed(boxes):  # what the initial tower makes of the crops of ``boxes``
        crops = crop_regions(images, boxes, model.teacher_input_size, model.crop_sampling_ratio)
        return model.initial_tower('encode_image', crops, normalize=True)
    torch.testing.assert_close(enlarged, embed(enlarged_boxes))
    torch.testing.assert_close(plain, embed(rois))
    # factor > 1: every crop shows more of the image than the box, so other pixels and
    # another embedding than the plain crop
    for plain_crop, enlarged_crop in zip(seen[0][1], seen[1][1]):
        assert (plain_crop - enlarged_crop).abs().mean() > 0.1
    assert not torch.allclose(plain, enlarged, atol=1e-3)


def test_teacher_crop_sampling_is_an_option_with_default_2():
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    rois = torch.tensor([[0., 0., 0., 64., 64.]])  # shrunk 4x to 16 px
    default, one = tiny(teacher_input_size=16), tiny(teacher_input_size=16, crop_sampling_ratio=1)
    assert default.crop_sampling_ratio == 2
    two = tiny(teacher_input_size=16, crop_sampling_ratio=2)
    assert torch.equal(default.teacher_crop_embeddings(images, rois),
                       two.teacher_crop_embeddings(images, rois))
    assert not torch.allclose(default.teacher_crop_embeddings(images, rois),
                              one.teacher_crop_embeddings(images, rois), atol=1e-3)
    with pytest.raises(ValueError, match='model.crop_sampling_ratio'):
        tiny(crop_sampling_ratio=-1)


def test_regionclip_needs_concepts_of_the_right_dimension(tmp_path):
    path = tmp_path / 'concepts.pth'
    text_embeddings_file(path, ['square', 'circle', 'ring'])
    model = tiny(loss_rla=dict(type='RegionCLIPLoss'), concepts=str(path))
    losses = model.loss(torch.randn(1, 3, 64, 64), samples(1, BOXES))
    assert torch.isfinite(losses['loss_regionclip']) and losses['loss_regionclip'] > 0
    with pytest.raises(ValueError, match='needs concepts'):
        tiny(loss_rla=dict(type='RegionCLIPLoss'))
    # a sigmoid CLIP's concept file (it records a bias): its scale and bias reach the loss
    from dataclasses import replace

    from refclip_mm.clip import load_class_embeddings, save_class_embeddings
    sigmoid = tmp_path / 'sigmoid_concepts.pth'
    save_class_embeddings(str(sigmoid), replace(load_class_embeddings(str(path)),
                                                logit_scale=10.0, logit_bias=-2.0))
    torch.manual_seed(0)
    softmax_model = tiny(loss_rla=dict(type='RegionCLIPLoss'), concepts=str(path))
    torch.manual_seed(0)
    sigmoid_model = tiny(loss_rla=dict(type='RegionCLIPLoss'), concepts=str(sigmoid))
    assert softmax_model.concept_scores == {}
    assert sigmoid_model.concept_scores == dict(logit_scale=10.0, logit_bias=-2.0)
    images = torch.randn(1, 3, 64, 64)
    a = softmax_model.loss(images, samples(1, BOXES))['loss_regionclip']
    b = sigmoid_model.loss(images, samples(1, BOXES))['loss_regionclip']
    assert torch.isfinite(b) and not torch.allclose(a, b)


def test_loss_terms_are_added_and_checked():
    model = tiny()
    seen = {}

    def term(batch):
        seen['shape'] = tuple(batch.student_dense.shape)
        seen['rois'] = batch.rois.shape[0]
        return dict(loss_extra=batch.student_dense.mean() * 0 + 1.0, extra_log=torch.tensor(2.0))
    model.add_loss_term('extra', term)
    losses = model.loss(torch.randn(2, 3, 64, 64), samples(2, BOXES))
    assert losses['loss_extra'] == 1.0 and seen == dict(shape=(2, 32, 8, 8), rois=6)
    with pytest.raises(KeyError, match='already registered'):
        model.add_loss_term('extra', term)
    model.remove_loss_term('extra')
    model.add_loss_term('clash', lambda batch: dict(loss_clipself=torch.tensor(0.)))
    with pytest.raises(KeyError, match='loss_clipself'):
        model.loss(torch.randn(1, 3, 64, 64), samples(1, BOXES))


def test_images_without_boxes_are_named():
    model = tiny()
    with pytest.raises(ValueError, match='img1.jpg has no boxes'):
        model.loss(torch.randn(2, 3, 64, 64), samples(1, BOXES) + samples(1, [])[:0] + [
            BaseDataElement(metainfo=dict(img_path='img1.jpg'))])
