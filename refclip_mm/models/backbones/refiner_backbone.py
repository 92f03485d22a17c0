"""RefinerBackbone: a frozen CLIP tower whose dense map goes through a trained Refiner."""
from typing import Any, Optional, Tuple

import torch

from ...registry import MODELS
from ...utils.atomic import atomic_torch_save
from ...utils.checkpoint import extract_state_dict, load_checkpoint_file, load_state_dict_checked
from .clip_vit import CLIPViT


def read_refiner_file(path: str) -> Tuple[dict, dict]:
    """Read a Refiner from an exported file or a stage-1 checkpoint.

    Returns:
        ``(state_dict, refiner_cfg)``: the Refiner's tensors (keys without the
        ``refiner.`` prefix) and its config (``dim``, ``depth``, ``num_heads``,
        ``mlp_ratio``) as far as the file records it, plus ``token_space``
        (``'projected'`` or ``'width'``: where in the tower it refines; pop it
        before building the :class:`Refiner`).
    """
    ckpt = load_checkpoint_file(path)
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    if isinstance(meta, dict) and 'refiner_cfg' in meta:  # tools/export_refiner.py output
        cfg = dict(meta['refiner_cfg'])
        cfg.setdefault('token_space', meta.get('token_space', 'projected'))
        return extract_state_dict(ckpt), cfg
    state = extract_state_dict(ckpt, prefix='refiner.')  # a stage-1 training checkpoint
    cfg = {}
    if isinstance(meta, dict) and isinstance(meta.get('cfg'), str):
        from mmengine.config import Config
        model_cfg = Config.fromstring(meta['cfg'], '.py').get('model', {})
        cfg = dict(model_cfg.get('refiner', {}))
        cfg['token_space'] = model_cfg.get('token_space', 'projected')
    cfg.pop('type', None)
    cfg.setdefault('token_space', 'projected')
    cfg.setdefault('dim', state['out.weight'].shape[0])
    cfg.setdefault('depth', len({k.split('.')[1] for k in state if k.startswith('blocks.')}))
    return state, cfg


def export_refiner(checkpoint: str, out_path: str) -> dict:
    """Write the Refiner of a stage-1 checkpoint as a standalone file.

    The file holds ``state_dict`` (the Refiner's tensors) and ``meta`` with
    ``refiner_cfg`` (dim, depth, num_heads, mlp_ratio), the CLIP tower it was
    trained on (``clip_model``, ``dense_mode``, ``token_space``) and the
    source checkpoint; it is read by :class:`RefinerBackbone`, by stage 2 and
    by :func:`read_refiner_file`. Written atomically.

    Returns:
        the ``meta`` dict written.
    """
    state, cfg = read_refiner_file(checkpoint)
    ckpt_meta = load_checkpoint_file(checkpoint).get('meta', {})
    model_cfg = {}
    if isinstance(ckpt_meta.get('cfg'), str):
        from mmengine.config import Config
        model_cfg = Config.fromstring(ckpt_meta['cfg'], '.py').get('model', {}).to_dict()
    cfg.pop('token_space', None)
    meta = dict(refiner_cfg=cfg, source=str(checkpoint), iter=ckpt_meta.get('iter'),
                clip_model=model_cfg.get('clip_model'), dense_mode=model_cfg.get('dense_mode', 'value'),
                token_space=model_cfg.get('token_space', 'projected'))
    atomic_torch_save(dict(state_dict=dict(state), meta=meta), out_path)
    return meta


@MODELS.register_module()
class RefinerBackbone(CLIPViT):
    """A frozen CLIP tower + a trained Refiner, as an mmdet / mmseg backbone.

    Outputs like :class:`CLIPViT` with ``with_dense=True``: the block maps of
    ``out_indices`` (optionally as a pyramid), then the *refined* dense map
    ``B x D x h x w``. The tower and the Refiner are frozen.

    Args:
        refiner_checkpoint: a file written by ``tools/export_refiner.py`` or a
            stage-1 training checkpoint; ``None`` builds an untrained
            (identity) Refiner from ``refiner``.
        refiner: Refiner options (``depth``, ``num_heads``, ``mlp_ratio``);
            values recorded in the checkpoint are used, and a config value
            that contradicts them is an error.
        **kwargs: :class:`CLIPViT` arguments (``with_dense`` is always on, the
            tower always fully frozen).
    """

    def __init__(self, refiner_checkpoint: Optional[str] = None, refiner: Optional[dict] = None,
                 **kwargs: Any):
        kwargs['with_dense'] = True
        if kwargs.get('trainable_blocks') is not None:
            raise ValueError('RefinerBackbone keeps the CLIP tower frozen; remove trainable_blocks')
        kwargs['frozen_stages'] = -1
        super().__init__(**kwargs)
        self.frozen_stages = self.tower.depth
        self._frozen_modules += self._freeze(self.tower.depth, None)
        cfg = dict(refiner or {})
        cfg.pop('type', None)
        state = None
        if refiner_checkpoint is not None:
            state, recorded = read_refiner_file(refiner_checkpoint)
            conflicts = {k: (v, recorded[k]) for k, v in cfg.items()
                         if k in recorded and recorded[k] != v}
            if conflicts:
                raise ValueError(f'refiner options {conflicts} (config, file) conflict with '
                                 f'{refiner_checkpoint!r}')
            cfg.update(recorded)
        self.token_space = cfg.pop('token_space', 'projected')
        if self.token_space not in ('projected', 'width'):
            raise ValueError(f"token_space must be 'projected' or 'width', got {self.token_space!r}")
        token_dim = self.tower.embed_dim if self.token_space == 'projected' else self.tower.width
        cfg.setdefault('dim', token_dim)
        if cfg['dim'] != token_dim:
            raise ValueError(f'the Refiner in {refiner_checkpoint!r} works on {cfg["dim"]}-dim '
                             f'tokens but this tower\'s {self.token_space} tokens have '
                             f'{token_dim}: it was trained for another tower')
        self.project_dense = self.token_space == 'projected'  # width: refine, then project
        self.refiner = MODELS.build(dict(type='Refiner', **cfg))
        if state is not None:
            load_state_dict_checked(self.refiner, state, source=refiner_checkpoint)
        self.refiner.requires_grad_(False)
        self._frozen_modules.append(self.refiner)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Images ``B x 3 x H x W`` -> block maps..., refined dense map."""
        *features, dense = super().forward(x)
        with torch.no_grad():
            refined = self.refiner(dense)
            if not self.project_dense:
                refined = self.tower.project_map(refined)
        return tuple(features) + (refined, )
