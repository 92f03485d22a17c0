"""Write the region-proposal file of the clipself-proposals configs with an mmdet model.

    python tools/make_proposals.py RPN_OR_DETECTOR_CONFIG.py CHECKPOINT.pth \
        data/coco/train2017 data/coco/proposals/train2017_proposals.json \
        [--device cuda] [--max-per-image 100] [--score-thr 0] [--min-size 0] [--nms-iou 0.7]
        [--max-images N] [--cfg-options KEY=VALUE ...]

Any mmdet 3.x config works: an RPN (its proposals) or a detector (its boxes, labels
ignored), run with mmdet's ``init_detector`` / ``inference_detector`` and the config's
test pipeline. The output maps each image's path relative to the folder to
``[[x1, y1, x2, y2, score], ...]`` in original pixels (what ``LoadRegionProposals`` reads;
see ``refclip_mm.datasets.proposals``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction

from refclip_mm.datasets.proposals import make_proposal_file


def main(argv=None):
    parser = argparse.ArgumentParser(description='Write a region-proposal JSON file')
    parser.add_argument('config', help='mmdet config of an RPN or a detector')
    parser.add_argument('checkpoint', help='its trained weights')
    parser.add_argument('images', help='image folder (keys are paths relative to it)')
    parser.add_argument('out', help='output JSON file')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--max-per-image', type=int, default=100,
                        help='boxes kept per image (the stage-2 configs use the best 20)')
    parser.add_argument('--score-thr', type=float, default=0.0)
    parser.add_argument('--min-size', type=float, default=0.0, help='smallest box side (pixels)')
    parser.add_argument('--nms-iou', type=float, default=0.7,
                        help='class-agnostic NMS threshold; a negative value disables it')
    parser.add_argument('--max-images', type=int, default=None, help='only the first N images')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.test_cfg.rpn.max_per_img=300')
    args = parser.parse_args(argv)
    return make_proposal_file(args.config, args.checkpoint, args.images, args.out,
                              device=args.device, max_per_image=args.max_per_image,
                              score_thr=args.score_thr, min_size=args.min_size,
                              nms_iou=None if args.nms_iou < 0 else args.nms_iou,
                              max_images=args.max_images, cfg_options=args.cfg_options)


if __name__ == '__main__':
    main()
