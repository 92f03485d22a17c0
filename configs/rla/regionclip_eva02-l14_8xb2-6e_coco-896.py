# Stage 2, RLA only: regionclip fine-tuning of EVA02-L-14 (METHOD.md section 5);
# regionclip_vit-l14-openai_8xb2-6e_coco-896.py with another tower. Edit: clip_pretrained.
_base_ = ['./regionclip_vit-l14-openai_8xb2-6e_coco-896.py']
clip_model = 'EVA02-L-14'
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'
# concept embeddings made by this tower's text encoder (tools/build_text_embeddings.py)
model = dict(clip_model=clip_model, pretrained=clip_pretrained,
             concepts='data/coco/annotations/concepts_train2017_eva02-l14.pth')
