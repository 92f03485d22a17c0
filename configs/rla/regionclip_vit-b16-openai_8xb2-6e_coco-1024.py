# Stage 2, RLA only: regionclip fine-tuning of ViT-B-16-quickgelu (METHOD.md section 5).
# Edit: clip_pretrained (local weights), data_root, the concept embeddings (tools/build_concepts.py + tools/build_text_embeddings.py).
_base_ = [
    '../_base_/datasets/coco_rla_patches_1024.py',
    '../_base_/schedules/rla_6e.py',
    '../_base_/default_runtime.py',
]
clip_model = 'ViT-B-16-quickgelu'
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'
model = dict(
    type='RLATrainer',
    clip_model=clip_model,
    pretrained=clip_pretrained,
    loss_rla=dict(type='RegionCLIPLoss'),
    concepts='data/coco/annotations/concepts_train2017_vit-b16-openai.pth',
    dense_mode='value',
    crop_enlarge=1.0,
    grad_checkpointing=True)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
