"""Inference images/s: our F-ViT vs the same network from stock mmdet parts without the OV head.

Both: a ViT-B/16 CLIPViT (random weights, fully frozen), simple pyramid, FPN, RPN and a
4-conv/2-fc RoI box head at 640 px. Ours adds the dense CLIP map, the 1x1 region pooling, the
cosine classifier against 65 text embeddings and the score fusion (FViT + OVRoIHead +
OVBBoxHead); the stock one is mmdet's FasterRCNN + StandardRoIHead + ConvFCBBoxHead with a
linear classifier. Prints images/s of each and the ratio (target >= 0.9).

    python benchmarks/bench_fvit_inference.py [--images 4] [--size 640] [--rounds 2]
"""
import argparse
import copy
import os.path as osp
import sys
import tempfile
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdet.registry import MODELS  # noqa: E402
from mmdet.structures import DetDataSample  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.config import Config  # noqa: E402

import refclip_mm  # noqa: E402,F401
from refclip_mm.clip import ClassEmbeddings, save_class_embeddings  # noqa: E402

CFG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_', 'fvit',
               'fvit_faster-rcnn.py')


def build(ov: bool, embeddings: str, num_classes: int):
    cfg = copy.deepcopy(Config.fromfile(CFG).model)
    cfg.backbone.update(clip_model='ViT-B-16', pyramid_norm_cfg=dict(type='BN'))
    cfg.neck.norm_cfg = dict(type='BN')
    head = cfg.roi_head.bbox_head
    head.norm_cfg = dict(type='BN')
    if ov:
        head.update(class_embeddings=embeddings)
    else:
        cfg.type = 'FasterRCNN'
        cfg.pop('use_clip_scores')
        cfg.backbone.with_dense = False
        cfg.roi_head.type = 'StandardRoIHead'
        for key in ('class_embeddings', 'class_names', 'novel_classes', 'learned_temperature',
                    'clip_temperature', 'alpha', 'beta', 'background_weight'):
            head.pop(key)
        head.update(type='ConvFCBBoxHead', num_classes=num_classes)
    return MODELS.build(cfg).eval()


def images_per_second(model, images, samples, rounds: int) -> float:
    with torch.no_grad():
        model.predict(images[:1], samples[:1])  # warm-up
        best = float('inf')
        for _ in range(rounds):
            start = time.perf_counter()
            for k in range(len(images)):
                model.predict(images[k:k + 1], samples[k:k + 1])
            best = min(best, time.perf_counter() - start)
    return len(images) / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=4)
    parser.add_argument('--size', type=int, default=640)
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args()
    register_all_modules(init_default_scope=True)  # mmdet scope, as a detector config sets
    torch.manual_seed(0)
    num_classes = 65
    with tempfile.TemporaryDirectory() as tmp:
        emb = torch.nn.functional.normalize(torch.randn(num_classes, 512), dim=-1)
        path = osp.join(tmp, 'emb.pth')
        save_class_embeddings(path, ClassEmbeddings([f'class {i}' for i in range(num_classes)],
                                                    emb, emb[0], ['{}'], 'random'))
        models = dict(fvit=build(True, path, num_classes), stock=build(False, path, num_classes))
    size = args.size
    images = torch.randn(args.images, 3, size, size)
    meta = dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0),
                pad_shape=(size, size), batch_input_shape=(size, size))
    samples = [DetDataSample(metainfo=meta) for _ in range(args.images)]
    speed = {}
    for _ in range(2):  # alternate so machine load affects both alike; keep the best
        for name, model in models.items():
            speed[name] = max(speed.get(name, 0.0),
                              images_per_second(model, images, samples, args.rounds))
    ratio = speed['fvit'] / speed['stock']
    print(f'threads={torch.get_num_threads()} images={args.images} size={size}')
    print(f'F-ViT (OV head, CLIP fusion): {speed["fvit"]:.3f} images/s')
    print(f'stock mmdet Faster R-CNN:     {speed["stock"]:.3f} images/s')
    print(f'ratio: {ratio:.3f} (target >= 0.9)')


if __name__ == '__main__':
    main()
