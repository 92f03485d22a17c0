# Stage 2, RLA only: clipself-patches fine-tuning of SigLIP 2 ViT-B/16 ('ViT-B-16-SigLIP2-384',
# docs/method.md section 5): clipself-patches_vit-b16-openai_8xb2-6e_coco-1024.py with another
# tower, SigLIP's normalisation and padding colour. The teacher embeds each crop at the tower's
# native 384 px through its attention-pool head. 8 GPUs x 2 images = batch 16, GPUs of 16 GB
# or more (an R-SC-RLA step at 1 image peaked at 4.7 GB of memory, fp32 on CPU).
_base_ = ['./clipself-patches_vit-b16-openai_8xb2-6e_coco-1024.py', '../_base_/siglip_normalization.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-SigLIP2-384.safetensors'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'ViT-B-16-SigLIP2-384'
model = dict(clip_model=clip_model, pretrained=clip_pretrained,
             data_preprocessor=_base_.siglip_preprocessor)
# the B/16 config's pipeline, padded with SigLIP's mean colour (about zero after normalisation)
train_pipeline = [dict(t, pad_val=_base_.siglip_pad_val) if t['type'] == 'ResizeLongestSidePad'
                  else t for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
