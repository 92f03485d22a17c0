# ToyWorld's third world, stage 1 with the package's default dense loss (docs/method.md
# section 4.3): the second world's registered stage 1 (128 px, 200 steps, batch 16) with the
# per-token cosine instead of the InfoNCE it was registered with. The third world trains both
# (docs/toyworld.md); tools/toyworld.py sets the paths and the seed.
_base_ = ['../toyworld/refiner_clip-toy_1xb16-200i_scenes-128.py']
model = dict(loss_dense=dict(type='DenseCosineLoss', _delete_=True))
