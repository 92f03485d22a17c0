# Runtime of the stage-2 (RLA) runs: refclip_mm's runtime, keeping the last 2 epoch checkpoints.
_base_ = ['./default_runtime.py']
default_hooks = dict(checkpoint=dict(max_keep_ckpts=2))
