# COCO train2017 images without labels, resized (longest side) and padded to 448 px.
# ---- paths to edit: every stage-1 and stage-2 config on COCO reads its images from here ---
data_root = 'data/coco/'  # train2017/ and annotations/instances_train2017.json
# ------------------------------------------------------------------------------------------
image_size = 448
train_pipeline = [
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='ResizeLongestSidePad', size=image_size),
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
