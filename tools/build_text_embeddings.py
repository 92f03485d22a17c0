"""Make a class-embedding file (prompt-ensembled CLIP text embeddings per class name).

    python tools/build_text_embeddings.py (--names FILE | --ann FILE | --dataset NAME)
        --model ViT-B-16 --pretrained /path/to/clip.pth
        [--templates single|imagenet80|detection] [--background "background"]
        [--arch-json ARCH.json] [--tokenizer-dir FOLDER] [--device cpu|cuda] --out embeddings.pth

SigLIP / SigLIP 2 read their Hugging Face tokenizer from local files: ``--model
local-dir:FOLDER`` (an open_clip model folder: config, weights and tokenizer), or a model
name with ``--pretrained`` a weight file whose folder holds the tokenizer files, or
``--tokenizer-dir FOLDER`` (docs/towers.md, "SigLIP 2 from local files").

Class names come from a text file (one per line), a COCO/LVIS annotation json
(its ``categories``, by id), or a builtin dataset list
(``refclip_mm.clip.class_names.BUILTIN_DATASETS``: coco, lvis, ade20k, ...).
The output file holds ``names``, ``embeddings`` (N x D, L2-normalised),
``background`` (D), ``templates``, ``model`` and the CLIP's ``logit_scale`` (the scale) and,
for a sigmoid-trained tower, ``logit_bias``; read it with
``refclip_mm.clip.load_class_embeddings``.
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.clip import (TEMPLATE_SETS, build_clip, load_class_embeddings,
                             make_class_embeddings, save_class_embeddings)
from refclip_mm.clip.class_names import (BUILTIN_DATASETS, class_names_from_annotation,
                                         get_class_names, read_class_names)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Build CLIP class-name embeddings')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--names', help='text file with one class name per line')
    source.add_argument('--ann', '--coco-ann', dest='ann',
                        help='COCO- or LVIS-format annotation json (categories are used)')
    source.add_argument('--dataset', choices=sorted(BUILTIN_DATASETS), help='builtin class list')
    parser.add_argument('--model', default='ViT-B-16',
                        help='open_clip model name, or local-dir:FOLDER (an open_clip model folder)')
    parser.add_argument('--arch-json', help='architecture dict as json (instead of --model)')
    parser.add_argument('--pretrained', help='local CLIP weight file or model folder (random weights '
                        'if omitted, except for a local-dir: model, whose folder has them)')
    parser.add_argument('--tokenizer-dir', help='folder of a SigLIP tokenizer (tokenizer_config.json, '
                        'tokenizer.json); default: the local-dir: folder or the weight file\'s')
    parser.add_argument('--templates', default='imagenet80', choices=sorted(TEMPLATE_SETS))
    parser.add_argument('--background', default='background',
                        help='class name whose prompts make the background embedding')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', required=True, help='output .pth file')
    return parser.parse_args(argv)


def class_names(args) -> list:
    if args.names:
        return read_class_names(args.names)
    if args.ann:
        return class_names_from_annotation(args.ann)
    return get_class_names(args.dataset)


def main(argv=None):
    args = parse_args(argv)
    # before the (long) encoding: the output folder must exist or be creatable
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    names = class_names(args)
    if args.arch_json:
        with open(args.arch_json, encoding='utf-8') as f:
            model = json.load(f)
        model_name = model.get('name', osp.splitext(osp.basename(args.arch_json))[0])
    else:
        model = model_name = args.model
    if args.pretrained is None and not str(model).startswith('local-dir:'):
        print('warning: no --pretrained file given, the text tower has random weights',
              file=sys.stderr)
    clip = build_clip(model, args.pretrained, towers=('text', ), tokenizer_dir=args.tokenizer_dir)
    tower = clip.text.to(args.device)
    embeddings = make_class_embeddings(tower, names, args.templates, args.background,
                                       model=model_name, **clip.scores())
    save_class_embeddings(args.out, embeddings)
    check = load_class_embeddings(args.out)
    assert torch.equal(check.embeddings, embeddings.embeddings.float().cpu())
    bias = '' if embeddings.logit_bias is None else f', sigmoid bias {embeddings.logit_bias:.3g}'
    print(f'wrote {len(names)} class embeddings ({embeddings.embeddings.shape[1]}-d, '
          f'{len(embeddings.templates)} templates, model {model_name}{bias}) to {args.out}')
    return args.out


if __name__ == '__main__':
    main()
