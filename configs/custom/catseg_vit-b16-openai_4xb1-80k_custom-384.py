# Cat-Seg on your own semantic segmentation data (docs/custom_datasets.md): the COCO-Stuff
# training config with your images, your label maps, your class names and your
# class-embedding file. The model, schedule and CLIP file (clip_pretrained) are the base's.
# Assumes the base config's set-up: 4 GPUs x 1 image, GPUs of 12 GB or more (see it).
_base_ = ['../catseg/catseg_vit-b16-openai_4xb1-80k_coco-stuff171-384.py']
# ---- paths to edit (clip_pretrained: the config in _base_) --------------------------------
data_root = 'data/my_data/'  # images/{train,val}/*.jpg, labels/{train,val}/*.png
class_embeddings = 'data/my_data/class_embeddings_vit-b16-openai.pth'  # tools/build_text_embeddings.py --names
# ------------------------------------------------------------------------------------------
# Label id k of the maps is the k-th name; 255 marks unlabelled pixels.
classes = ('tablecloth', 'teapot', 'kite string', 'mug', 'spatula', 'colander')
train_dataloader = dict(dataset=dict(
    type='CustomSegDataset', data_root=data_root, metainfo=dict(classes=classes),
    data_prefix=dict(img_path='images/train', seg_map_path='labels/train')))
val_dataloader = dict(dataset=dict(
    type='CustomSegDataset', data_root=data_root, metainfo=dict(classes=classes),
    data_prefix=dict(img_path='images/val', seg_map_path='labels/val')))
test_dataloader = val_dataloader
model = dict(decode_head=dict(class_embeddings=class_embeddings))
