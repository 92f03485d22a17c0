# Evaluation set: Pascal VOC 2012 val without background (20 classes): mmseg's PascalVOCDataset with the
# background class removed through metainfo (its pixels become ignore 255).
voc20_classes = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
                 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
                 'sheep', 'sofa', 'train', 'tvmonitor')
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1536, 384), keep_ratio=True),
    dict(type='LoadCheckedSegMap', num_classes=20, ignore_index=255),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 ann_file='ImageSets/Segmentation/val.txt',
                 metainfo=dict(classes=voc20_classes),
                 pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=255)
test_cfg = dict(type='TestLoop')
