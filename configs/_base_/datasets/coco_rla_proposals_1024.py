# Stage-2 data: COCO train2017 images at 1024 px with region proposals from a JSON file
# ({"file_name": [[x1, y1, x2, y2, score], ...]}, original image pixels; tools/make_proposals.py),
# up to 20 per image. The dataset reads the file (proposal_file, relative to data_root).
_base_ = ['./coco_rla_patches_1024.py']
# ---- paths to edit (data_root: coco_unlabeled_448.py) ------------------------------------
proposal_file = 'proposals/train2017_proposals.json'  # under data_root; tools/make_proposals.py
# ------------------------------------------------------------------------------------------
train_pipeline = [
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='LoadRegionProposals', max_proposals=20),
    dict(type='ResizeLongestSidePad', size={{_base_.image_size}}),
    dict(type='PackImageInputs'),
]
train_dataloader = dict(dataset=dict(proposal_file=proposal_file, pipeline=train_pipeline))
