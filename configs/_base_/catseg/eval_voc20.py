# Evaluation set: Pascal VOC 2012 val without background (20 classes): eval_voc21.py with the
# background class removed through metainfo (its pixels become ignore 255).
_base_ = ['./eval_voc21.py']
voc20_classes = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
                 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
                 'sheep', 'sofa', 'train', 'tvmonitor')
test_pipeline = [dict(t, num_classes=20) if t['type'] == 'LoadCheckedSegMap' else t
                 for t in _base_.test_pipeline]
test_dataloader = dict(dataset=dict(metainfo=dict(classes=voc20_classes), pipeline=test_pipeline))
