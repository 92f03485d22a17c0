"""The main job on the embedded default: the whole pipeline on generated scenes and a tiny CLIP.

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/demo] [--fast] [--verbose]
    python tools/demo.py --tower siglip2 [--work-dir work_dirs/demo-siglip2] [--fast] [--verbose]
    python tools/demo.py --toyworld [--work-dir work_dirs/toyworld-quick] [--verbose]

The stages are refclip_mm.apis.demo.run_demo: data, a tiny random CLIP, stage 1 (Refiner),
stage 2 (R-SC-RLA), dense quality and pictures of CLIP / CLIP + Refiner / the stage-2 tower,
an mmseg segmentor and a tiny F-ViT on the stage-2 tower. One line per stage; each training
run's log goes to console.log in its folder (--verbose streams it). The CLIP is random, so the
numbers show that the pipeline runs, not what the method achieves with real CLIP weights.
``--tower siglip2`` runs every stage on a tiny SigLIP 2 CLIP instead (an open_clip model folder
with its own tokenizer, SigLIP's normalisation in every config; refclip_mm.apis.demo.DEMO_TOWERS).
``--toyworld`` runs the quick ToyWorld instead (refclip_mm.toyworld, docs/toyworld.md,
<= 15 minutes on 2 cores): a CLIP pre-trained on generated scene-caption pairs, then the same
stages for CLIPSelf, RegionCLIP, SC-RLA and R-SC-RLA, and a table whose numbers mean something
at that scale; it ends with its CLIPSelf F-ViT's picture of val scenes for every shape word
(refclip_mm.toyworld.your_words), real scores of a trained toy detector.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.apis.demo import DEMO_TOWERS, run_demo

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', help='default: work_dirs/demo (work_dirs/demo-TOWER with '
                        '--tower TOWER, work_dirs/toyworld-quick with --toyworld)')
    parser.add_argument('--data-root', default=osp.join(REPO, 'data', 'demo'))
    parser.add_argument('--fast', action='store_true', help='fewer iterations (for tests)')
    parser.add_argument('--verbose', action='store_true', help='stream the training logs')
    parser.add_argument('--tower', choices=list(DEMO_TOWERS), default='openai',
                        help='the tiny CLIP: OpenAI-style (default) or SigLIP 2 (its own '
                        'tokenizer and normalisation)')
    parser.add_argument('--toyworld', action='store_true',
                        help='the quick ToyWorld: a CLIP pre-trained on generated scenes')
    args = parser.parse_args(argv)
    if args.toyworld and args.tower != 'openai':
        parser.error('--tower applies to the demo, not to --toyworld')
    if args.toyworld:
        from refclip_mm.toyworld import run_toyworld
        from refclip_mm.toyworld.your_words import your_words_picture
        work = args.work_dir or osp.join(REPO, 'work_dirs', 'toyworld-quick')
        summary = run_toyworld(work, quick=True, verbose=args.verbose)
        pictures = your_words_picture(work, quick=True)
        print('[toyworld] your words: the CLIPSelf F-ViT on val scenes with every shape word, '
              'novel ones included (tools/infer.py does this for your images): '
              + ', '.join(pictures))
        return summary
    name = 'demo' if args.tower == 'openai' else f'demo-{args.tower}'
    return run_demo(args.work_dir or osp.join(REPO, 'work_dirs', name), args.data_root,
                    fast=args.fast, verbose=args.verbose, tower=args.tower)


if __name__ == '__main__':
    main()
