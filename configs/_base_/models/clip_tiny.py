# The tiny CLIP of the demo and the tests (same as refclip_mm.clip.tiny.TINY_OPENAI_ARCH):
# a randomly initialised 3-block ViT, width 64, patch 8, native 32 px. Use it in a config as
# clip_model={{_base_.tiny_clip}}.
tiny_clip = dict(
    embed_dim=32,
    quick_gelu=True,
    vision_cfg=dict(image_size=32, layers=3, width=64, head_width=16, patch_size=8),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=2))
