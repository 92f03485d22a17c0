# Stage 2, RLA only: regionclip fine-tuning of ViT-L-14-quickgelu (docs/method.md section 5);
# regionclip_vit-b16-openai_8xb2-6e_coco-1024.py with another tower.
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s), about 9 GB each: an
# estimate, not measured: the ViT-B/16 estimate with 3.5x the parameters and 2.7x the
# activations gradient checkpointing keeps. Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./regionclip_vit-b16-openai_8xb2-6e_coco-1024.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'  # CLIP weight file (docs/towers.md)
concepts = 'data/coco/annotations/concepts_train2017_vit-l14-openai.pth'  # build_concepts.py + build_text_embeddings.py
# ------------------------------------------------------------------------------------------
clip_model = 'ViT-L-14-quickgelu'
model = dict(clip_model=clip_model, pretrained=clip_pretrained, concepts=concepts)
image_size = 896  # a multiple of the patch size 14
# the B/16 config's pipeline, its image size (the `size` of ResizeLongestSidePad) set to image_size
train_pipeline = [dict(t, size=image_size) if 'size' in t else t for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
