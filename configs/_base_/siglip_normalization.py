# SigLIP / SigLIP 2's image normalisation (mean = std = 0.5 per channel, as open_clip's pretrained
# configs of the *-SigLIP2 models state), RGB, 0-255 units: the one place the configs of SigLIP
# towers take it from; the stage-1/2 preprocessor, and the padding colour of their pipelines
# (BGR; about zero after normalisation).
siglip_mean = [127.5, 127.5, 127.5]
siglip_std = [127.5, 127.5, 127.5]
siglip_preprocessor = dict(type='ImgDataPreprocessor', mean=siglip_mean, std=siglip_std,
                           bgr_to_rgb=True)
siglip_pad_val = [127.5, 127.5, 127.5]
