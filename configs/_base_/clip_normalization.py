# OpenAI CLIP's image normalisation (also EVA02-CLIP's), RGB, 0-255 units: the one place configs
# take it from (refclip_mm.datasets.transforms.CLIP_MEAN / CLIP_STD in code).
clip_mean = [122.7709383, 116.7460125, 104.09373615]
clip_std = [68.5005327, 66.6321579, 70.32316305]
