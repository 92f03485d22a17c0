# Stage-2 student (docs/method.md section 5): RLATrainer fine-tuning OpenAI's ViT-B/16
# (QuickGELU) on its value-path dense features with gradient checkpointing. Leaf configs set
# the CLIP weight file (pretrained), the region-language loss (loss_rla) and, for RegionCLIP, the
# concepts file.
clip_model = 'ViT-B-16-quickgelu'
model = dict(
    type='RLATrainer',
    clip_model=clip_model,
    pretrained=None,
    dense_mode='value',
    crop_enlarge=1.0,
    grad_checkpointing=True)
