# The ToyWorld CLIP (docs/toyworld.md): a 6-block ViT, width 192, patch 8, native 64 px, and a
# 3-layer text transformer, trained from scratch on generated image-caption pairs (stage 0).
# Use it in a config as clip_model={{_base_.toy_clip}}. It spells out every key of the tiny
# CLIP (clip_tiny.py), so merging it over a tiny config's clip_model replaces that one whole.
toy_clip = dict(
    embed_dim=128,
    quick_gelu=False,
    vision_cfg=dict(image_size=64, layers=6, width=192, head_width=64, patch_size=8),
    text_cfg=dict(context_length=32, vocab_size=49408, width=128, heads=2, layers=3))
