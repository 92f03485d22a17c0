"""bf16 autocast vs fp32 for the ToyWorld CLIP's training and frozen steps, on this CPU.

    python benchmarks/bench_toy_bf16.py [--rounds 5] [--threads 2]

The toy CLIP of configs/_base_/models/clip_toy.py (ViT 6 x 192, patch 8, native 64 px; text
3 x 128), random weights. Cases, each with a fixed batch:

* stage 0: a contrastive step (both towers forward, symmetric InfoNCE, backward), 64 pairs
  at 64 px;
* student 2x / 3x: the dense forward and a backward of the image tower at 128 / 192 px
  (stage 1 and stage 2 / F-ViT resolutions relative to the native 64 px), batch 16;
* frozen 2x / 3x: the dense forward without autograd (the stage-1 tower, the SCD teacher),
  batch 16.

fp32 and bf16 (``torch.autocast('cpu', dtype=torch.bfloat16)``) runs alternate after one
warm-up each; the table gives medians, the bf16 / fp32 time ratio and the relative difference
of the outputs (loss, or dense map: max |a - b| / max |a|).
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def toy_clip():
    from mmengine.config import Config

    from refclip_mm.clip import build_clip
    from refclip_mm.utils.paths import config_root
    arch = Config.fromfile(osp.join(config_root(), '_base_', 'models', 'clip_toy.py'))
    torch.manual_seed(0)
    return build_clip(arch.toy_clip.to_dict())


def cases(clip):
    image, text = clip.image, clip.text
    captions = [f'a photo of a red square and a blue circle on grass {i}' for i in range(64)]

    def stage0():
        img = torch.randn(64, 3, 64, 64)
        a = F.normalize(image.encode_image(img), dim=-1)
        b = F.normalize(text.encode_text(captions), dim=-1)
        logits = a @ b.T * 20
        target = torch.arange(64)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        loss.backward()
        return loss.detach()

    def student(size):
        def run():
            dense = image.forward_dense(torch.randn(16, 3, size, size)).dense
            dense.float().pow(2).mean().backward()
            return dense.detach()
        return run

    def frozen(size):
        def run():
            with torch.no_grad():
                return image.forward_dense(torch.randn(16, 3, size, size)).dense
        return run

    return {'stage 0 step (64 px, 64 pairs)': stage0, 'student 2x (128 px)': student(128),
            'student 3x (192 px)': student(192), 'frozen 2x (128 px)': frozen(128),
            'frozen 3x (192 px)': frozen(192)}


def timed(fn, bf16, seed):
    torch.manual_seed(seed)
    start = time.perf_counter()
    if bf16:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = fn()
    else:
        out = fn()
    return time.perf_counter() - start, out.float()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clip = toy_clip()
    print(f'toy CLIP, {args.threads} threads, {args.rounds} alternating rounds after a warm-up; '
          'medians')
    print(f'{"case":<32} {"fp32 s":>8} {"bf16 s":>8} {"bf16/fp32":>10} {"rel. diff":>10}')
    rows = {}
    for name, fn in cases(clip).items():
        timed(fn, False, 0)
        timed(fn, True, 0)
        times = {False: [], True: []}
        for r in range(args.rounds):
            for bf16 in ((False, True) if r % 2 == 0 else (True, False)):
                seconds, _ = timed(fn, bf16, r)
                times[bf16].append(seconds)
        clip.zero_grad(set_to_none=True)
        _, ref = timed(fn, False, 123)
        _, low = timed(fn, True, 123)
        diff = float((ref - low).abs().max() / ref.abs().max().clamp_min(1e-12))
        fp32, bf16 = statistics.median(times[False]), statistics.median(times[True])
        rows[name] = dict(fp32=fp32, bf16=bf16, ratio=bf16 / fp32, rel_diff=diff)
        print(f'{name:<32} {fp32:8.3f} {bf16:8.3f} {bf16 / fp32:10.2f} {diff:10.4f}', flush=True)
    return rows


if __name__ == '__main__':
    main()
