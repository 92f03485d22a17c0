# Evaluation set: ADE20K-847 (full vocabulary; prepare with tools/prepare_ade20k_847.py): 16-bit labels, ignore 65535.
# ---- paths to edit: every config tested on this set reads its data from here -------------
data_root = 'data/ADE20K_2021_17_01'  # tools/prepare_ade20k_847.py
# ------------------------------------------------------------------------------------------
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1536, 384), keep_ratio=True),
    dict(type='LoadCheckedSegMap', num_classes=847, ignore_index=65535),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ADE20K847Dataset', data_root=data_root,
                 data_prefix=dict(img_path='images_847/validation', seg_map_path='annotations_847/validation'),
                 pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)
test_cfg = dict(type='TestLoop')
