# Evaluation set: ADE20K-150 (mmseg's ADE20KDataset, ADEChallengeData2016).
# ---- paths to edit: every config tested on this set reads its data from here -------------
data_root = 'data/ade/ADEChallengeData2016'  # mmseg's ADEChallengeData2016
# ------------------------------------------------------------------------------------------
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1536, 384), keep_ratio=True),
    dict(type='LoadCheckedSegMap', num_classes=150, ignore_index=255),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ADE20KDataset', data_root=data_root,
                 data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
                 pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=255)
test_cfg = dict(type='TestLoop')
