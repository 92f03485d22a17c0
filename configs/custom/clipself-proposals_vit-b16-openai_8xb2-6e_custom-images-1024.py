# Stage 2 (CLIPSelf) on your own images with your own boxes (docs/custom_datasets.md): every
# image under the folder, its boxes from a JSON file {"<path under the folder>": [[x1, y1, x2,
# y2(, score)], ...]}. The model, schedule and CLIP file (clip_pretrained) are the base's.
# Ground-truth boxes of a COCO json instead: ann_file='annotations/train.json',
# boxes_from_annotations=True, proposal_file=None.
# Assumes the base config's set-up: 8 GPUs x 2 images, about 3 GB each (see it).
_base_ = ['../rla/clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py']
# ---- paths to edit (clip_pretrained: the config in _base_) --------------------------------
data_root = 'data/my_data/'  # images/ (every image under it, sub-folders too)
proposal_file = 'boxes.json'  # under data_root; your boxes, or tools/make_proposals.py
# ------------------------------------------------------------------------------------------
train_pipeline = [
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='LoadRegionProposals', max_proposals=20),
    dict(type='ResizeLongestSidePad', size={{_base_.image_size}}),
    dict(type='PackImageInputs'),
]
train_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='', data_prefix=dict(img='images/'),
    proposal_file=proposal_file, check_images=True, pipeline=train_pipeline))
