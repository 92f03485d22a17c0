"""A trained ToyWorld F-ViT on val scenes with words of one's own (the ``--toyworld`` demo's
last picture).

The detector of a finished run (``fvit_<tower>_seed<seed>`` in the work dir) is given every
thing word of the world through :class:`~refclip_mm.apis.inference.OVDetInferencer`; the words
of its training split's novel classes are words it never trained on. The stage-0 CLIP's text
tower embeds them (stage 2 trains only the image tower).
"""
import glob
import json
import os.path as osp
from typing import List, Optional

from ..apis import last_checkpoint
from .pipeline import Run, fvit_config
from .worlds import get_world


def your_words_picture(work_dir: str, results_dir: Optional[str] = None, world: int = 2,
                       quick: bool = False, seed: int = 0, row: str = 'CLIPSelf',
                       images: int = 2, out_dir: Optional[str] = None,
                       score_thr: float = 0.3) -> List[str]:
    """Draw the detections of ``row``'s F-ViT (seed ``seed``, its first detector) on the first
    ``images`` val scenes, for every thing word of the world; returns the pictures' paths
    (under ``out_dir``, default ``<work_dir>/your_words/vis``; the predictions beside them in
    ``preds/``).

    Raises:
        FileNotFoundError: the run has no such detector checkpoint or no val scenes (run the
            ToyWorld first, in this work dir).
    """
    from ..apis.inference import OVDetInferencer
    the_world = get_world(world)
    run = Run(work_dir, the_world.quick if quick else the_world.full, results_dir=results_dir,
              world=the_world)
    work = run.path('work', f'fvit_{row.lower().replace(" ", "")}_seed{seed}')
    checkpoint = last_checkpoint(work)
    scenes = sorted(glob.glob(osp.join(run.data, 'images', 'val', '*.jpg')))[:images]
    if not scenes:
        raise FileNotFoundError(f'no val scenes in {run.data}/images/val: run the ToyWorld in '
                                f'{work_dir} first')
    with open(osp.join(run.data, 'classes.json')) as f:
        words = json.load(f)['thing']
    tower = run.clip if row == 'CLIP' else run.tower(row, seed)
    cfg = fvit_config(tower, run.text['things'], run.data, work, seed, run.protocol.fvit_iters,
                      world=the_world)
    inferencer = OVDetInferencer(cfg, checkpoint, texts=words, clip_weights=run.clip,
                                 device='cpu', show_progress=False)
    out = out_dir or run.path('your_words')
    inferencer(scenes, out_dir=out, pred_score_thr=score_thr)
    return [osp.join(out, 'vis', osp.basename(path)) for path in scenes]
