# F-ViT on your own COCO-format data (docs/custom_datasets.md): the OV-COCO config with your
# images, your categories, your base / novel split and your class-embedding file. The model,
# schedule and CLIP file (clip_pretrained) are the base config's.
# Assumes the base config's set-up: 8 GPUs x 8 images, about 13 GB each (see it).
_base_ = ['../fvit/fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py']
# ---- paths to edit (clip_pretrained: the config in _base_) --------------------------------
data_root = 'data/my_data/'  # annotations/{train,val}.json, images/{train,val}/
class_embeddings = 'data/my_data/class_embeddings_vit-b16-openai.pth'  # tools/build_text_embeddings.py --ann
# ------------------------------------------------------------------------------------------
# The annotation files' category names, in the order the files list them; the novel ones are
# left out of training (their instances dropped) and scored by CLIP at test time.
classes = ('teapot', 'kite string', 'mug', 'spatula', 'colander')
novel_classes = ('kite string', 'colander')
base_classes = tuple(c for c in classes if c not in novel_classes)
metainfo = dict(classes=classes, base_classes=base_classes, novel_classes=novel_classes)
train_dataloader = dict(dataset=dict(
    data_root=data_root, metainfo=metainfo, ann_file='annotations/train.json',
    data_prefix=dict(img='images/train/'), check_images=True))
val_dataloader = dict(dataset=dict(
    data_root=data_root, metainfo=metainfo, ann_file='annotations/val.json',
    data_prefix=dict(img='images/val/'), check_images=True))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
model = dict(roi_head=dict(bbox_head=dict(
    class_embeddings=class_embeddings, class_names=classes, novel_classes=novel_classes)))
