import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from refclip_mm.evaluation import UnsupervisedSegMetric
from refclip_mm.models.segmentors import DenseFeatureSegmentor, crop_padding
from .conftest import NUM_CLASSES, oracle_feats


def _samples(feats, labels, as_elements=False):
    out = []
    for index, (f, lab) in enumerate(zip(feats, labels)):
        if as_elements:
            sample = SegDataSample(metainfo=dict(img_path=f'img{index}.jpg'))
            sample.gt_sem_seg = PixelData(data=lab[None])
            sample.dense_feats = f
            out.append(sample.to_dict())   # what mmengine's Evaluator hands to process()
        else:
            out.append(dict(img_path=f'img{index}.jpg', dense_feats=f,
                            gt_sem_seg=dict(data=lab[None])))
    return out


@pytest.mark.parametrize('as_elements', [False, True])
def test_metric_scores_oracle_features(labels, as_elements):
    metric = UnsupervisedSegMetric(seed=0, upsample='nearest')
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(NUM_CLASSES)])
    samples = _samples(oracle_feats(labels, 0.05), labels, as_elements)
    metric.process({}, samples[:10])
    metric.process({}, samples[10:])
    assert metric.results[0]['feats'].dtype == torch.float16
    assert metric.results[0]['labels'].shape == labels[0].shape
    scores = metric.evaluate(len(samples))
    assert set(scores) == {'unsup/mIoU', 'unsup/aAcc', 'unsup/mAcc'}
    assert scores['unsup/mIoU'] == pytest.approx(100.0)
    assert metric.results == []          # reset for the next evaluation
    assert metric.last_result.num_images == len(labels)


def test_metric_noise_lowers_score_and_needs_class_count(labels):
    metric = UnsupervisedSegMetric(num_classes=NUM_CLASSES, prefix='dq', log_per_class=False)
    metric.process({}, _samples(oracle_feats(labels, 2.0), labels))
    scores = metric.evaluate(len(labels))
    assert 10 < scores['dq/mIoU'] < 95
    no_classes = UnsupervisedSegMetric()
    no_classes.process({}, _samples(oracle_feats(labels[:2], 0.1), labels[:2]))
    with pytest.raises(ValueError, match='needs num_classes'):
        no_classes.compute_metrics(no_classes.results)


def test_metric_errors_on_missing_fields(labels):
    metric = UnsupervisedSegMetric(num_classes=NUM_CLASSES)
    with pytest.raises(KeyError, match="img0.jpg has no 'dense_feats' field.*DenseFeatureSegmentor"):
        metric.process({}, [dict(img_path='img0.jpg', gt_sem_seg=dict(data=labels[0][None]))])
    with pytest.raises(ValueError, match='must be a D x h x w tensor, got \\(1, 32, 8, 8\\)'):
        metric.process({}, [dict(img_path='x', dense_feats=torch.zeros(1, 32, 8, 8),
                                 gt_sem_seg=dict(data=labels[0][None]))])
    with pytest.raises(ValueError, match='unknown upsample mode'):
        UnsupervisedSegMetric(upsample='cubic')


def test_crop_padding_removes_padded_tokens_and_undoes_flip():
    dense = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 8, 8)
    # 64 x 64 input of which the right 16 and bottom 24 pixels are padding (stride 8)
    out = crop_padding(dense, (64, 64), dict(padding_size=[0, 16, 0, 24]))
    assert out.shape == (2, 5, 6) and torch.equal(out, dense[:, :5, :6])
    flipped = crop_padding(dense, (64, 64), dict(flip=True, flip_direction='horizontal'))
    assert torch.equal(flipped, dense.flip(-1))


def test_dense_feature_segmentor_wraps_a_tiny_clip_backbone():
    from refclip_mm.clip import tiny_arch
    model = DenseFeatureSegmentor(
        tower=dict(type='CLIPViT', clip_model=tiny_arch('openai'), out_indices=(), with_dense=True))
    images = torch.randn(2, 3, 32, 48)
    samples = [SegDataSample(metainfo=dict(padding_size=[0, 16, 0, 0])) for _ in range(2)]
    out = model.predict(images, samples)
    assert out[0].dense_feats.shape == (32, 4, 4)   # 6 token columns minus 2 of padding
    with torch.no_grad():
        direct = model.tower.tower.forward_dense(images).dense
    assert torch.allclose(out[1].dense_feats, direct[1, :, :, :4], atol=1e-5)
    with pytest.raises(NotImplementedError, match='only evaluates'):
        model.loss(images, samples)
    with pytest.raises(TypeError, match='has no dense map'):
        DenseFeatureSegmentor(tower=torch.nn.Conv2d(3, 3, 1))
