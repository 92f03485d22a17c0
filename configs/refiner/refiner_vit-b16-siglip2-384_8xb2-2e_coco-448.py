# Stage 1 on a frozen SigLIP 2 ViT-B/16 (open_clip 'ViT-B-16-SigLIP2-384': no class token, its
# attention-pool head taken per token as the projection; 448 px = 28 x 28 tokens); Refiner width
# 768 (SigLIP 2's embed_dim). 8 GPUs x 2 images = batch 16, GPUs of 8 GB or more (a step at 2
# images peaked at 2.0 GB of memory, fp32 on CPU).
# The stage-2, F-ViT and Cat-Seg configs *_vit-b16-siglip2-384_* use the same tower.
_base_ = ['./refiner_vit-b16-openai_8xb2-2e_coco-448.py', '../_base_/siglip_normalization.py']
# ---- paths to edit (data_root: ../_base_/datasets/coco_unlabeled_448.py) -----------------
clip_pretrained = 'checkpoints/ViT-B-16-SigLIP2-384.safetensors'  # CLIP weight file (docs/towers.md)
# ------------------------------------------------------------------------------------------
clip_model = 'ViT-B-16-SigLIP2-384'
model = dict(clip_model=clip_model, pretrained=clip_pretrained, refiner=dict(num_heads=12),
             data_preprocessor=_base_.siglip_preprocessor)
# the B/16 config's pipeline, padded with SigLIP's mean colour (zero after normalisation)
train_pipeline = [dict(t, pad_val=_base_.siglip_pad_val) if t['type'] == 'ResizeLongestSidePad'
                  else t for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
