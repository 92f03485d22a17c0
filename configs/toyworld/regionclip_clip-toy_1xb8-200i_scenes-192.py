# ToyWorld stage 2, RLA only: RegionCLIP fine-tuning of the stage-0 toy CLIP; the concept
# vocabulary is every class name of the world, embedded by the stage-0 text tower (tools/toyworld.py
# sets the concept file, model.concepts, like the other paths).
_base_ = ['./clipself_clip-toy_1xb8-200i_scenes-192.py']
model = dict(loss_rla=dict(type='RegionCLIPLoss'), concepts=None)
