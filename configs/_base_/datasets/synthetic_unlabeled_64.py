# Unlabeled 64 px synthetic scenes for the tiny stage-1 and stage-2 configs (demo and tests).
# Data: python tools/make_synthetic_data.py data/demo
image_size = 64
data_root = 'data/demo/'
train_pipeline = [
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='ResizeLongestSidePad', size=image_size),
    dict(type='PackImageInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='UnlabeledImageDataset',
        data_root=data_root,
        data_prefix=dict(img='images/train'),
        pipeline=train_pipeline))
