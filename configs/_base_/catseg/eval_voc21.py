# Evaluation set: Pascal VOC 2012 val with background (21 classes; mmseg's PascalVOCDataset).
# ---- paths to edit: every config tested on this set reads its data from here -------------
data_root = 'data/VOCdevkit/VOC2012'  # VOC2012
# ------------------------------------------------------------------------------------------
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1536, 384), keep_ratio=True),
    dict(type='LoadCheckedSegMap', num_classes=21, ignore_index=255),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PascalVOCDataset', data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 ann_file='ImageSets/Segmentation/val.txt',
                 pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=255)
test_cfg = dict(type='TestLoop')
