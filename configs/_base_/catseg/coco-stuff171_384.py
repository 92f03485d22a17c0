# COCO-Stuff-164k with 171 classes (mmseg's COCOStuffDataset; *_labelTrainIds.png written by
# mmseg's tools/dataset_converters/coco_stuff164k.py). Training set of every Cat-Seg config.
# ---- paths to edit: every Cat-Seg training config reads its data from here ---------------
data_root = 'data/coco_stuff164k'  # images/, annotations/ (mmseg's coco_stuff164k converter)
# ------------------------------------------------------------------------------------------
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadCheckedSegMap', num_classes=171, ignore_index=255),
    dict(type='RandomResize', scale=(1536, 384), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(384, 384), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1536, 384), keep_ratio=True),
    dict(type='LoadCheckedSegMap', num_classes=171, ignore_index=255),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='COCOStuffDataset', data_root=data_root,
                 data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='COCOStuffDataset', data_root=data_root,
                 data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=255)
test_evaluator = val_evaluator
