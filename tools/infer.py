"""Run an open-vocabulary detector or segmentor on your own images with your own words.

    python tools/infer.py IMAGE|FOLDER CONFIG [CHECKPOINT]
        (--words "cat, remote control" | --words-file FILE) --out-dir DIR
        [--score-thr 0.3] [--batch-size 1] [--device cpu|cuda] [--clip-weights FILE]
        [--templates single|imagenet80|detection] [--cache-dir DIR] [--cfg-options k=v ...]

CONFIG is an F-ViT config (configs/fvit/) or a Cat-Seg / training-free segmentor config
(configs/catseg/); CHECKPOINT the trained model (a training-free config needs none: the CLIP
file its config names is the whole model). The words are embedded by the CLIP text tower of
the config's CLIP file (or ``--clip-weights``); see ``refclip_mm.apis.inference``.

Writes ``DIR/vis/<image>`` (the predictions drawn by mmdet's / mmseg's visualizer) and
``DIR/preds/<image>.json`` (detection: boxes, labels, label names and scores of the boxes
scoring at least ``--score-thr``; segmentation: the pixel count per word and the label map
``DIR/preds/<image>.png``). An image that cannot be read is reported and skipped; the bad files
are listed at the end. Exit status: 0 when at least one image was processed, 1 when none was,
2 for an error in the arguments (named in the message).
"""
import argparse
import os.path as osp
import sys

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction

import refclip_mm  # noqa: F401  (registers modules, installs the safe checkpoint loader)
from refclip_mm.apis.inference import (PRED_DIR, VIS_DIR, named_inputs, ov_inferencer,
                                       read_words_file)
from refclip_mm.clip import TEMPLATE_SETS, parse_words
from refclip_mm.utils.checkpoint import CheckpointError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Open-vocabulary detection / segmentation of your images with your words')
    parser.add_argument('inputs', metavar='IMAGE|FOLDER', help='an image, or a folder of images '
                        '(searched recursively)')
    parser.add_argument('config', help='detector or segmentor config')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='trained checkpoint (not needed for a training-free config)')
    words = parser.add_mutually_exclusive_group(required=True)
    words.add_argument('--words', help='the vocabulary: "cat, remote control" or "cat . remote '
                       'control"')
    words.add_argument('--words-file', help='a file with one word (or phrase) per line')
    parser.add_argument('--out-dir', required=True, help='where pictures and predictions go')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: keep (draw and write) boxes scoring at least this')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', default=None, help='cpu, cuda, cuda:1 (default: the GPU if '
                        'there is one)')
    parser.add_argument('--clip-weights', help='CLIP file whose text tower embeds the words '
                        '(default: the config\'s model.backbone.pretrained, then the checkpoint)')
    parser.add_argument('--templates', choices=sorted(TEMPLATE_SETS), default=None,
                        help='prompt templates (default: those of the config\'s class-embedding '
                        'file, else detection / imagenet80)')
    parser.add_argument('--cache-dir', help='keep the embedded vocabularies here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, key=value')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def prepare(args):
    """The words, the number of images and the inferencer; every mistake in the arguments
    (words, inputs, config, checkpoint, CLIP file) stops here, before any image is run."""
    words = parse_words(read_words_file(args.words_file) if args.words_file else args.words)
    if not osp.exists(args.inputs):
        raise FileNotFoundError(f'no such image or folder: {args.inputs!r}')
    count = len(named_inputs(args.inputs))  # a folder without images stops here
    if args.batch_size < 1:
        raise ValueError(f'--batch-size must be at least 1, got {args.batch_size}')
    inferencer = ov_inferencer(args.config, args.checkpoint, texts=words,
                               clip_weights=args.clip_weights, templates=args.templates,
                               cache_dir=args.cache_dir, device=args.device,
                               show_progress=not args.no_progress, cfg_options=args.cfg_options)
    return words, count, inferencer


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        words, count, inferencer = prepare(args)
    except (ValueError, TypeError, KeyError, FileNotFoundError, CheckpointError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f'error: {message}', file=sys.stderr)
        return 2
    options = dict(batch_size=args.batch_size, out_dir=args.out_dir)
    if inferencer.task == 'detection':
        options['pred_score_thr'] = args.score_thr
    results = inferencer(args.inputs, **options)
    done, failed = len(results['predictions']), results['failed']
    print(f'{inferencer.task} of {done} of {count} images with {len(words)} words '
          f'({", ".join(words[:8])}{", ..." if len(words) > 8 else ""}): pictures in '
          f'{osp.join(args.out_dir, VIS_DIR)}, predictions in {osp.join(args.out_dir, PRED_DIR)}')
    if failed:
        print(f'{len(failed)} of {count} images could not be read and were skipped:',
              file=sys.stderr)
        for item in failed:
            print(f'  {item["image"]}: {item["error"]}', file=sys.stderr)
    return 0 if done else 1


if __name__ == '__main__':
    sys.exit(main())
