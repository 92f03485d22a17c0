# Stage 2, RLA only: clipself-patches fine-tuning of EVA02-L-14 (METHOD.md section 5);
# clipself-patches_vit-l14-openai_8xb2-6e_coco-896.py with another tower. Edit: clip_pretrained.
_base_ = ['./clipself-patches_vit-l14-openai_8xb2-6e_coco-896.py']
clip_model = 'EVA02-L-14'
clip_pretrained = 'checkpoints/EVA02_CLIP_L_psz14_s4B.pt'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
