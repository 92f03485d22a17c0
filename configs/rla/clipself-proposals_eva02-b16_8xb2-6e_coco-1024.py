# Stage 2, RLA only: clipself-proposals fine-tuning of EVA02-B-16 (METHOD.md section 5);
# clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py with another tower. Edit: clip_pretrained.
_base_ = ['./clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py']
clip_model = 'EVA02-B-16'
clip_pretrained = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
