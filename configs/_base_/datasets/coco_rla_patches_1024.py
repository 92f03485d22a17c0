# Stage-2 data: COCO train2017 images at 1024 px (longest side, padded square) with
# CLIPSelf's random grid boxes ("patches"): the unlabeled COCO data at another size.
_base_ = ['./coco_unlabeled_448.py']
image_size = 1024
train_pipeline = [
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='ResizeLongestSidePad', size=image_size),
    dict(type='RandomGridBoxes', max_split=6, max_boxes=20),
    dict(type='PackImageInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
