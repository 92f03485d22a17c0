"""Open-vocabulary inference on a folder: ``OVDetInferencer`` vs mmdet's own ``DetInferencer``.

Both run the same F-ViT detector (the OV-COCO config, ViT-B/16, 640 px; random weights saved
once as a checkpoint) on the same folder of images with the same batch size. mmdet's inferencer
reads a fixed class-embedding file written beforehand for the words; ours is given the words at
call time (``texts=``) and embeds them once, when the vocabulary is first seen, so the timed
calls measure what a user's folder costs after that. The two run in alternation ``--rounds``
times; the medians of images/s and their ratio are printed (goal >= 0.9).

Then the one-off cost of a new vocabulary: ``set_vocabulary`` for ``--vocabularies`` word counts
(default 20 and 1,203, the LVIS size; words drawn from the LVIS names), with the detection
templates (12 prompts a word, the inferencer's default), nothing cached.

    PYTHONPATH=. python benchmarks/bench_ov_inferencer.py
    PYTHONPATH=. python benchmarks/bench_ov_inferencer.py --images 4 --size 320 --vocabularies 20
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'fvit', 'fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py')
WORDS = ('person, bicycle, teapot, kite string, red umbrella, dog, remote control, cup, '
         'traffic cone, laptop')
BASE = ['person', 'bicycle', 'dog', 'cup', 'laptop']  # fused as base classes, the rest as novel


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=8, help='images in the folder')
    parser.add_argument('--size', type=int, default=640, help='longer image side (the '
                        'config resizes to 640 px either way)')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3, help='alternating rounds per inferencer')
    parser.add_argument('--vocabularies', type=int, nargs='*', default=[20, 1203],
                        help='word counts whose one-off embedding cost is measured')
    return parser.parse_args(argv)


def write_folder(folder: str, count: int, size: int) -> None:
    """``count`` JPEGs of ``size`` x ``3/4 size`` px: smooth random colour fields."""
    import mmcv
    rng = np.random.default_rng(0)
    h, w = size * 3 // 4, size
    for k in range(count):
        coarse = rng.integers(0, 256, (h // 32 + 1, w // 32 + 1, 3), dtype=np.uint8)
        image = mmcv.imresize(coarse, (w, h), interpolation='bilinear')
        mmcv.imwrite(image, osp.join(folder, f'{k:03d}.jpg'))


def images_per_second(run, count: int) -> float:
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def main(argv=None):
    args = parse_args(argv)
    import open_clip
    from mmdet.apis import DetInferencer

    from refclip_mm.apis.inference import OVDetInferencer
    from refclip_mm.clip import parse_words, save_class_embeddings
    from refclip_mm.clip.class_names import get_class_names

    torch.manual_seed(0)
    words = parse_words(WORDS)
    with tempfile.TemporaryDirectory() as tmp:
        clip_file = osp.join(tmp, 'clip_b16.pth')
        torch.save(open_clip.create_model('ViT-B-16-quickgelu').state_dict(), clip_file)
        options = {'model.backbone.pretrained': clip_file}
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # random heads, no dataset meta
            ours = OVDetInferencer(CONFIG, texts=words, device='cpu', show_progress=False,
                                   base_classes=BASE, cfg_options=options)
        checkpoint = osp.join(tmp, 'fvit.pth')
        torch.save({'state_dict': ours.model.state_dict()}, checkpoint)
        ours.model.load_state_dict(torch.load(checkpoint, weights_only=True)['state_dict'])
        embeddings = osp.join(tmp, 'words.pth')
        save_class_embeddings(embeddings, ours.encoder.encode(words))
        from mmengine.config import Config
        cfg = Config.fromfile(CONFIG)
        cfg.merge_from_dict(options)
        cfg.model.roi_head.bbox_head.update(class_embeddings=embeddings, class_names=words,
                                            base_classes=BASE, novel_classes=None)
        cfg.model.roi_head.bbox_head.pop('num_classes', None)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            stock = DetInferencer(cfg, checkpoint, device='cpu', show_progress=False)
        folder = osp.join(tmp, 'images')
        os.makedirs(folder)
        write_folder(folder, args.images, args.size)
        runs = dict(
            ours=lambda: ours(folder, texts=words, batch_size=args.batch_size, out_dir=''),
            stock=lambda: stock(folder, batch_size=args.batch_size, out_dir='',
                                no_save_pred=True, no_save_vis=True))
        same = (torch.allclose(ours([osp.join(folder, '000.jpg')], texts=words, out_dir='',
                                    return_datasamples=True)['predictions'][0].pred_instances
                               .scores[:5],
                               stock(osp.join(folder, '000.jpg'), return_datasamples=True,
                                     no_save_pred=True)['predictions'][0].pred_instances.scores[:5],
                               atol=1e-5))
        speed = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                speed[name].append(images_per_second(run, args.images))
        median = {name: statistics.median(values) for name, values in speed.items()}
        print(f'threads={torch.get_num_threads()} images={args.images} '
              f'size={args.size}x{args.size * 3 // 4} batch={args.batch_size} rounds={args.rounds}')
        print(f'same top scores on one image: {same}')
        print(f'OVDetInferencer (texts= at call time): {median["ours"]:.3f} images/s '
              f'(rounds: {", ".join(f"{v:.3f}" for v in speed["ours"])})')
        print(f'mmdet DetInferencer (fixed file):      {median["stock"]:.3f} images/s '
              f'(rounds: {", ".join(f"{v:.3f}" for v in speed["stock"])})')
        print(f'ratio: {median["ours"] / median["stock"]:.3f} (goal >= 0.9)')
        rng = np.random.default_rng(0)
        for count in args.vocabularies:
            vocabulary = [str(w) for w in rng.choice(get_class_names('lvis'), count, replace=False)]
            vocabulary = [w.replace('_', ' ') for w in vocabulary]
            start = time.perf_counter()
            ours.set_vocabulary(vocabulary)
            seconds = time.perf_counter() - start
            prompts = count * len(ours.encoder.templates)
            print(f'new vocabulary of {count} words ({prompts} prompts): {seconds:.1f} s once')


if __name__ == '__main__':
    main()
