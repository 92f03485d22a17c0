# Stage 2, RLA only: regionclip fine-tuning of EVA02-B-16 (docs/method.md section 5);
# regionclip_vit-b16-openai_8xb2-6e_coco-1024.py with another tower.
_base_ = ['./regionclip_vit-b16-openai_8xb2-6e_coco-1024.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'  # CLIP weight file (docs/towers.md)
concepts = 'data/coco/annotations/concepts_train2017_eva02-b16.pth'  # build_concepts.py + build_text_embeddings.py
# ------------------------------------------------------------------------------------------
clip_model = 'EVA02-B-16'
model = dict(clip_model=clip_model, pretrained=clip_pretrained, concepts=concepts)
