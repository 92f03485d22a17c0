# Stage-2 data: COCO train2017 images at 1024 px with region proposals from a JSON file
# ({"file_name": [[x1, y1, x2, y2, score], ...]}, original image pixels), up to 20 per image.
_base_ = ['./coco_rla_patches_1024.py']
proposal_file = 'data/coco/proposals/train2017_proposals.json'
train_pipeline = [
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='LoadRegionProposals', proposal_file=proposal_file, max_proposals=20),
    dict(type='ResizeLongestSidePad', size={{_base_.image_size}}),
    dict(type='PackImageInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
