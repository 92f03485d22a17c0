# F-ViT (Faster R-CNN) on OV-COCO, EVA02-B-16 backbone, 640 px, 3 epochs, 8 GPUs x 8 images.
# fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py with an EVA02-CLIP tower; see it for data and schedule.
# Assumes 8 GPUs x 8 images (the paper's and CLIPSelf's set-up: 8 A100s), about 13 GB each: an
# estimate from the step measured at 320 px and 2 images (peak 1.6 GB on the CPU, tower
# frozen; benchmarks/bench_memory_switches.py) with the activations scaled to 640 px and
# 8 images (16x). EVA02-B/16 has the size of ViT-B/16. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py']
# ---- paths to edit (data_root: ../_base_/fvit/ov_coco_detection.py) ----------------------
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'  # CLIP file or converted tower
class_embeddings = 'data/embeddings/coco_eva02-b16.pth'  # tools/build_text_embeddings.py --dataset coco
# ------------------------------------------------------------------------------------------
model = dict(
    backbone=dict(clip_model='EVA02-B-16', pretrained=clip_pretrained),
    roi_head=dict(bbox_head=dict(class_embeddings=class_embeddings)))
