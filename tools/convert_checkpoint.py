"""Convert a stage-2 (RLA) checkpoint into backbone weights.

    python tools/convert_checkpoint.py STAGE2.pth OUT.pth [--format tower|open_clip|local-dir]
                                       [--initial CLIP_WEIGHTS --alpha 0.7] [--clip-model NAME]
                                       [--tokenizer-dir FOLDER]

``tower`` (default) writes ``visual.*`` keys that ``CLIPViT(pretrained=OUT.pth)``
loads (F-ViT detectors and the segmentors use CLIPViT); ``open_clip`` writes a full
open_clip state dict (the text tower comes from --initial) that plain open_clip loads:
``open_clip.create_model('ViT-B-16-quickgelu', pretrained=OUT.pth)`` (or the model the
stage-2 config trained, e.g. ``EVA02-B-16``). ``local-dir`` writes OUT as open_clip's model
folder (``open_clip_config.json``, ``open_clip_model.safetensors`` and, for SigLIP / SigLIP 2,
the tokenizer files, taken from --tokenizer-dir or from the folder of --initial):
``open_clip.create_model_and_transforms('local-dir:OUT')`` loads it, as does
``build_clip('local-dir:OUT')``. --initial may be a file or a model folder. ``--alpha`` saves the
weight average alpha*student + (1-alpha)*initial (0.7 for B/16, 0.95 for L/14).

The student's keys are found through the package's one table of checkpoint layouts
(``refclip_mm.utils.weight_layouts``); the output records its architecture (from the
training config the checkpoint holds, or ``--clip-model``), the method and its source.
"""
import argparse
import os.path as osp
import sys

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.models.trainers.convert import FORMATS, convert_stage2_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description='Convert a stage-2 checkpoint')
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--format', choices=FORMATS, default='tower')
    parser.add_argument('--initial', help='the CLIP weights stage 2 started from (a file or a '
                        'model folder)')
    parser.add_argument('--alpha', type=float, help='weight of the fine-tuned tower in the average')
    parser.add_argument('--clip-model', help='open_clip model name stage 2 trained, for a '
                        'checkpoint that does not record its training config')
    parser.add_argument('--tokenizer-dir', help='local-dir format, SigLIP: the tokenizer folder to '
                        'copy in (default: the one next to --initial)')
    args = parser.parse_args(argv)
    meta = convert_stage2_checkpoint(args.checkpoint, args.out, args.format, args.initial,
                                     args.alpha, clip_model=args.clip_model,
                                     tokenizer_dir=args.tokenizer_dir)
    averaged = f', averaged with alpha={args.alpha}' if args.alpha is not None else ''
    method = meta['method'] or {}
    trained = ' + '.join(str(v) for v in (method.get('rla'), method.get('scd')) if v)
    print(f'wrote {args.out}: {meta["tensors"]} tensors in {args.format} format{averaged}'
          + (f' ({trained})' if trained else ''))
    return meta


if __name__ == '__main__':
    main()
