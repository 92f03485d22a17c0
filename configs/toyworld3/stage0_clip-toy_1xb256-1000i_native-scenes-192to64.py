# ToyWorld's third world, stage 0 (docs/toyworld.md): the toy CLIP (64 px) pre-trained from
# scratch on scenes drawn natively at 192 px, seen as a CLIP sees web photos: a quarter of the
# views are whole scenes downsampled to 64 px, the rest random-resized crops (torchvision's
# scale range, 8-100% of the area) resized to 64 px, each captioned with what it shows (things
# with half their visible pixels inside and at least 9 pixels in the 64 px view).
# The scenes: 2-6 things of side 8-45% of the image, each shape with its own surface pattern
# (4 periods across the thing: a small thing's pattern shows only when it is seen large).
#   python tools/toyworld.py --world 3 --premises    (trains, exports and checks it)
_base_ = ['../toyworld/stage0_clip-toy_1xb256-800i_scenes-64.py']
max_iters = 1000
# one worker draws the next batch while the model trains (drawing a batch of 192 px scenes takes
# about as long as the step itself)
train_dataloader = dict(
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        scene_cfg=dict(image_size=192, objects_per_image=(2, 6), object_scale=(0.08, 0.45),
                       thing_pattern_cycles=4, fast_draw=True),
        crop=dict(scale=(0.08, 1.0), full_view=0.25, out_size=64, min_pixels=9)))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, eta_min=1e-5, by_epoch=False,
         begin=100, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
