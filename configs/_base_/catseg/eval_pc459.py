# Evaluation set: Pascal Context-459 (full vocabulary; prepare with tools/prepare_pascal_context_459.py): 16-bit labels, ignore 65535.
# ---- paths to edit: every config tested on this set reads its data from here -------------
data_root = 'data/VOCdevkit/VOC2010'  # tools/prepare_pascal_context_459.py
# ------------------------------------------------------------------------------------------
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1536, 384), keep_ratio=True),
    dict(type='LoadCheckedSegMap', num_classes=459, ignore_index=65535),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PascalContext459Dataset', data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_459/val'),
                 ann_file='ImageSets/SegmentationContext/val.txt',
                 pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)
test_cfg = dict(type='TestLoop')
