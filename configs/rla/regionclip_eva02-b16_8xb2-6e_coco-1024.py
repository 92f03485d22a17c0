# Stage 2, RLA only: regionclip fine-tuning of EVA02-B-16 (docs/method.md section 5);
# regionclip_vit-b16-openai_8xb2-6e_coco-1024.py with another tower.
# Assumes 8 GPUs x 2 images (the paper's and CLIPSelf's set-up: 8 A100s), about 3 GB each: an
# estimate from the R-SC-RLA step measured at 448 px (peak 1.9 GB on the CPU, gradient
# checkpointing on; benchmarks/bench_memory_switches.py) with the activations scaled to
# 1024 px (5.2x the tokens); RLA and SC-RLA run no teacher forward or Refiner on top. EVA02-B/16 has the size of ViT-B/16.
# Smaller GPUs: docs/training.md#fitting-smaller-gpus.
_base_ = ['./regionclip_vit-b16-openai_8xb2-6e_coco-1024.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'  # CLIP weight file (docs/towers.md)
concepts = 'data/coco/annotations/concepts_train2017_eva02-b16.pth'  # build_concepts.py + build_text_embeddings.py
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-B-16'
model = dict(clip_model=clip_model, pretrained=clip_pretrained, concepts=concepts)
