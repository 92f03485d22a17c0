# Stage-2 data: COCO train2017 images at 1024 px (longest side, padded square) with
# CLIPSelf's random grid boxes ("patches").
image_size = 1024
data_root = 'data/coco/'
train_pipeline = [
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='ResizeLongestSidePad', size=image_size),
    dict(type='RandomGridBoxes', max_split=6, max_boxes=20),
    dict(type='PackImageInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='UnlabeledImageDataset',
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
