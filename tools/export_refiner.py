"""Export the Refiner of a stage-1 checkpoint as a standalone file.

    python tools/export_refiner.py work_dirs/<stage1>/iter_N.pth refiner.pth

The output is what ``RefinerBackbone(refiner_file=...)`` and the stage-2
SCD hook (``refiner_file=...``) load. The frozen CLIP tower is not in it: point
those configs at the same CLIP weights used in stage 1.
"""
import argparse
import os.path as osp
import sys

# run from a checkout: use its refclip_mm rather than an installed copy
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from refclip_mm.models.refiner_file import export_refiner


def main(argv=None):
    parser = argparse.ArgumentParser(description='Export a trained Refiner')
    parser.add_argument('checkpoint', help='stage-1 training checkpoint (or a Refiner file of an '
                        'earlier version, to rewrite in the current format)')
    parser.add_argument('out', help='output .pth file')
    args = parser.parse_args(argv)
    meta = export_refiner(args.checkpoint, args.out)
    cfg = meta['refiner_cfg']
    print(f'wrote {args.out}: Refiner dim={cfg["dim"]} depth={cfg["depth"]} '
          f'heads={cfg.get("num_heads", "?")} (trained on {meta["clip_model"]!r}, '
          f'{meta["token_space"]} tokens, iteration {meta["iter"]})')
    return meta


if __name__ == '__main__':
    main()
