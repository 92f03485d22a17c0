"""Build RegionCLIP's concept vocabulary from COCO-format captions.

    python tools/build_concepts.py data/coco/annotations/captions_train2017.json \
        concepts.txt [--min-count 5] [--max-concepts 0] [--min-concepts 5]

Writes one concept per line (the input of ``tools/build_text_embeddings.py --names``,
whose output file is the ``concepts=`` of a RegionCLIP stage-2 config) and prints how
many concepts were kept, of how many candidate words, from how many captions. Fewer
than ``--min-concepts`` concepts is an error that says which ``--min-count`` would
give enough (or that more captions are needed); nothing is written then.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.datasets.concepts import MIN_CONCEPTS, build_vocabulary
from refclip_mm.utils.atomic import atomic_write


def main(argv=None):
    parser = argparse.ArgumentParser(description='Build a concept vocabulary from captions')
    parser.add_argument('captions', help='COCO-format captions json')
    parser.add_argument('out', help='output text file, one concept per line')
    parser.add_argument('--min-count', type=int, default=5,
                        help='keep words seen at least this often')
    parser.add_argument('--max-concepts', type=int, default=0, help='keep at most this many (0: all)')
    parser.add_argument('--min-concepts', type=int, default=MIN_CONCEPTS,
                        help='refuse a smaller vocabulary')
    args = parser.parse_args(argv)
    with open(args.captions) as f:
        annotations = json.load(f).get('annotations')
    if not annotations:
        raise ValueError(f'{args.captions!r} has no caption "annotations"')
    try:
        vocab = build_vocabulary((a['caption'] for a in annotations), args.min_count,
                                 args.max_concepts, args.min_concepts)
    except ValueError as err:
        raise SystemExit(f'{args.captions}: {err}') from None
    text = '\n'.join(vocab.concepts) + '\n'
    atomic_write(args.out, lambda f: f.write(text.encode()))  # creates missing folders
    print(f'wrote {args.out}: {vocab.summary()}; most frequent: {", ".join(vocab.concepts[:10])}')
    return vocab.concepts


if __name__ == '__main__':
    main()
