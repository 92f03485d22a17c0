# Stage 2, RLA only: clipself-proposals fine-tuning of SigLIP 2 ViT-B/16 ('ViT-B-16-SigLIP2-384',
# docs/method.md section 5): clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py with another
# tower, SigLIP's normalisation and padding colour. The teacher embeds each proposal crop at the
# tower's native 384 px through its attention-pool head.
# Assumes 8 GPUs x 2 images = batch 16 and the GB per GPU that
# clipself-patches_vit-b16-siglip2-384_8xb2-6e_coco-1024.py states (same tower, size and batch):
# GPUs of 16 GB or more.
_base_ = ['./clipself-proposals_vit-b16-openai_8xb2-6e_coco-1024.py', '../_base_/siglip_normalization.py']
# proposal_file (the region proposals): ../_base_/datasets/coco_rla_proposals_1024.py
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-SigLIP2-384.safetensors'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'ViT-B-16-SigLIP2-384'
model = dict(clip_model=clip_model, pretrained=clip_pretrained,
             data_preprocessor=_base_.siglip_preprocessor)
# the B/16 config's proposal pipeline, padded with SigLIP's mean colour (about zero after
# normalisation)
train_pipeline = [dict(t, pad_val=_base_.siglip_pad_val) if t['type'] == 'ResizeLongestSidePad'
                  else t for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
