# F-ViT (Mask R-CNN) on OV-LVIS, EVA02-L-14 backbone, 896 px, 48 epochs, 8 GPUs x 8 images.
# fvit-mask-rcnn_vit-l14-openai_8xb8-48e_ov-lvis-896.py with an EVA02-CLIP tower; see it for data and schedule.
_base_ = ['./fvit-mask-rcnn_vit-l14-openai_8xb8-48e_ov-lvis-896.py']
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/lvis_eva02-l14.pth'  # tools/build_text_embeddings.py --ann lvis_v1_val.json
data_root = 'data/lvis_v1/'  # annotations/ from tools/prepare_ov_lvis.py, train2017/, val2017/
# ------------------------------------------------------------------------------------------
novel_classes = data_root + 'annotations/lvis_v1_ov_novel_classes.json'  # tools/prepare_ov_lvis.py
model = dict(
    backbone=dict(clip_model='EVA02-L-14', pretrained=clip_pretrained),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings, novel_classes=novel_classes)))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator
