# Stage 2, RLA only: regionclip fine-tuning of EVA02-B-16 (METHOD.md section 5);
# regionclip_vit-b16-openai_8xb2-6e_coco-1024.py with another tower. Edit: clip_pretrained.
_base_ = ['./regionclip_vit-b16-openai_8xb2-6e_coco-1024.py']
clip_model = 'EVA02-B-16'
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'
# concept embeddings made by this tower's text encoder (tools/build_text_embeddings.py)
model = dict(clip_model=clip_model, pretrained=clip_pretrained,
             concepts='data/coco/annotations/concepts_train2017_eva02-b16.pth')
