"""Class-embedding speed on CPU: trimmed, length-sorted batches vs the whole 77-token context.

``build_class_embeddings(..., trim=False)`` (the old path: prompts in order, every one run over
the full context) against the default (prompts sorted by length, each batch cut to its longest
prompt; :meth:`refclip_mm.clip.CLIPTextTower.encode_text`). Default setting: the ViT-B/16 text
tower (the same text tower as EVA02-B-16: width 512, 12 layers, context 77; random weights),
``--names`` LVIS class names drawn with a fixed seed, the 80 ImageNet templates (the
``build_text_embeddings.py`` default, the LVIS command's case), batch 256. The two paths run in
alternation ``--repeats`` times; the medians and their ratio are printed, with the largest
difference between the two outputs and the projected time for all 1203 LVIS classes.

    PYTHONPATH=. python benchmarks/bench_text_embeddings.py
    PYTHONPATH=. python benchmarks/bench_text_embeddings.py --templates detection --names 20
"""
import argparse
import os.path as osp
import random
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--names', type=int, default=4, help='LVIS class names in the sample')
    parser.add_argument('--templates', default='imagenet80')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from refclip_mm.clip import (build_class_embeddings, build_text_tower, get_class_names,
                                 get_templates)
    all_names = get_class_names('lvis')
    names = random.Random(args.seed).sample(all_names, args.names)
    prompts = len(names) * len(get_templates(args.templates))
    torch.manual_seed(args.seed)
    tower = build_text_tower(args.model)
    runs = dict(old=lambda: build_class_embeddings(tower, names, args.templates, args.batch_size,
                                                   trim=False),
                new=lambda: build_class_embeddings(tower, names, args.templates, args.batch_size))
    seconds = {k: [] for k in runs}
    outputs = {}
    for _ in range(args.repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            outputs[key] = run()
            seconds[key].append(time.perf_counter() - start)
    diff = float((outputs['old'] - outputs['new']).abs().max())
    rate = {k: prompts / statistics.median(v) for k, v in seconds.items()}
    print(f'{args.model} text tower, {len(names)} LVIS names x {args.templates} = {prompts} prompts, '
          f'batch {args.batch_size}, {args.threads} threads, median of {args.repeats} alternating runs')
    for key in runs:
        full = len(all_names) * len(get_templates(args.templates)) / rate[key] / 60
        print(f'  {key}: {rate[key]:.1f} prompts/s  (all 1203 LVIS classes: {full:.1f} min)')
    print(f'  speed-up new/old: {rate["new"] / rate["old"]:.2f}x; largest |old - new| of the '
          f'normalised embeddings: {diff:.2e}')
    return rate, diff


if __name__ == '__main__':
    main()
