"""Build RegionCLIP's concept vocabulary from COCO-format captions.

    python tools/build_concepts.py data/coco/annotations/captions_train2017.json \
        concepts.txt [--min-count 5] [--max-concepts 0]

Writes one concept per line (the input of ``tools/build_text_embeddings.py --names``,
whose output file is the ``concepts=`` of a RegionCLIP stage-2 config).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.datasets.concepts import extract_concepts  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description='Build a concept vocabulary from captions')
    parser.add_argument('captions', help='COCO-format captions json')
    parser.add_argument('out', help='output text file, one concept per line')
    parser.add_argument('--min-count', type=int, default=5)
    parser.add_argument('--max-concepts', type=int, default=0)
    args = parser.parse_args(argv)
    with open(args.captions) as f:
        annotations = json.load(f).get('annotations')
    if not annotations:
        raise ValueError(f'{args.captions!r} has no caption "annotations"')
    concepts = extract_concepts((a['caption'] for a in annotations), args.min_count,
                                args.max_concepts)
    with open(args.out, 'w') as f:
        f.write('\n'.join(concepts) + '\n')
    print(f'wrote {len(concepts)} concepts to {args.out} (from {len(annotations)} captions); '
          f'most frequent: {", ".join(concepts[:10])}')
    return concepts


if __name__ == '__main__':
    main()
