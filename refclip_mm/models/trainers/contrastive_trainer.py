"""Stage 0: contrastive image-caption pre-training of a small CLIP (both towers)."""
from collections import OrderedDict
from typing import List, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from ...clip import build_clip, clip_dims
from ...datasets.transforms import clip_image_preprocessor
from ...registry import MODELS
from ...utils.artifact import artifact_meta, meta_of, plain, recorded_model_cfg, save_artifact
from ...utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file
from ...utils.weight_layouts import select_weights
from .finite import FiniteLossMixin


def contrastive_loss(image: torch.Tensor, text: torch.Tensor,
                     logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric InfoNCE over a batch of matching pairs.

    Args:
        image: ``B x D`` image embeddings (normalised here).
        text: ``B x D`` text embeddings of the captions, row ``i`` matches image ``i``.
        logit_scale: scalar, the log of the inverse temperature.

    Returns:
        scalar: mean of the image->text and text->image cross-entropies.
    """
    if image.shape != text.shape or image.dim() != 2:
        raise ValueError(f'image and text embeddings must both be B x D, got '
                         f'{tuple(image.shape)} and {tuple(text.shape)}')
    logits = logit_scale.exp() * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
    target = torch.arange(image.shape[0], device=image.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def towers_state_dict(state: Mapping[str, torch.Tensor], prefix: str = ''
                      ) -> 'OrderedDict[str, torch.Tensor]':
    """:class:`CLIPTowers` weights (keys under ``prefix``, e.g. ``'clip.'`` in a stage-0
    checkpoint) in the canonical layout ``visual.*``, ``text.*``, ``logit_scale`` that
    :func:`refclip_mm.clip.build_clip` loads (the ``clip_towers`` layout of
    :mod:`refclip_mm.utils.weight_layouts`).

    Raises:
        ValueError: no key under ``prefix`` belongs to an image tower.
    """
    try:
        out = select_weights(state, 'clip_towers', under=prefix)
    except CheckpointError as err:
        out, reason = {}, f' ({err})'
    else:
        reason = ''
    if not any(k.startswith('visual.') for k in out):
        raise ValueError(f'no CLIP image-tower keys under {prefix!r} (expected '
                         f'{prefix}image.visual.*); is this a stage-0 checkpoint?' + reason)
    return out


def export_stage0_checkpoint(checkpoint: str, out_path: str) -> dict:
    """Write the CLIP of a stage-0 (``ContrastiveCLIPTrainer``) checkpoint as a CLIP file.

    The file is an artifact of kind ``'clip'`` (:mod:`refclip_mm.utils.artifact`): the
    canonical ``visual.*`` / ``text.*`` / ``logit_scale`` weights every CLIP loader takes,
    and ``meta`` with ``clip_model`` (the open_clip name or architecture dict it was
    trained as, from the training config the checkpoint records), ``embed_dim``,
    ``source`` and ``iter``. Written atomically.

    Returns:
        the ``meta`` written.
    """
    loaded = load_checkpoint_file(checkpoint)
    state = towers_state_dict(extract_state_dict(loaded), 'clip.')
    model_cfg = recorded_model_cfg(loaded, repr(checkpoint)) or {}
    clip_model = model_cfg.get('clip_model')
    if clip_model is None:
        raise ValueError(f'{checkpoint!r} does not record the CLIP architecture it trained (no '
                         'model.clip_model in the training config of its meta.cfg)')
    meta = artifact_meta('clip', checkpoint, clip_model=plain(clip_model),
                         embed_dim=clip_dims(clip_model)['embed_dim'],
                         iter=meta_of(loaded).get('iter'))
    save_artifact(out_path, state, meta)
    return meta


@MODELS.register_module()
class ContrastiveCLIPTrainer(FiniteLossMixin, BaseModel):
    """Train a CLIP from scratch on image-caption pairs (the ToyWorld's stage 0).

    Both towers and the temperature train. Each data sample carries its caption
    in ``metainfo['caption']``; captions are tokenized with the model's
    tokenizer. ``tools/toyworld.py`` exports the result with
    :func:`export_stage0_checkpoint` as a CLIP file.

    Args:
        clip_model: open_clip model name or architecture dict.
        pretrained: optional local weights to start from (default: random).
        max_logit_scale: the log-temperature is clamped to ``log(max_logit_scale)``.
        data_preprocessor: normalisation (OpenAI CLIP mean/std, BGR->RGB).
    """

    def __init__(self, clip_model: Union[str, dict], pretrained: Optional[str] = None,
                 max_logit_scale: float = 100.0, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = clip_image_preprocessor()
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if max_logit_scale <= 1:
            raise ValueError(f'max_logit_scale must be > 1, got {max_logit_scale}')
        self.clip = build_clip(clip_model, pretrained)
        self.max_log_scale = float(torch.tensor(max_logit_scale).log())

    @staticmethod
    def captions_of(data_samples: Optional[list]) -> List[str]:
        """The caption of every sample; a clear error if one has none."""
        captions = []
        for index, sample in enumerate(data_samples or []):
            caption = sample.metainfo.get('caption')
            if not isinstance(caption, str) or not caption.strip():
                raise ValueError(f'data sample {index} has no caption; the pipeline must pack '
                                 "'caption' into the metainfo (PackImageInputs(meta_keys=(..., "
                                 "'caption')))")
            captions.append(caption)
        return captions

    def embed(self, images: torch.Tensor, captions: List[str]):
        """Unnormalised ``B x D`` image and text embeddings."""
        return self.clip.image.encode_image(images), self.clip.text.encode_text(captions)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        captions = self.captions_of(data_samples)
        if len(captions) != inputs.shape[0]:
            raise ValueError(f'{inputs.shape[0]} images but {len(captions)} captions')
        image, text = self.embed(inputs, captions)
        if mode == 'loss':
            if inputs.shape[0] < 2:
                raise ValueError('contrastive training needs at least 2 pairs per batch')
            with torch.no_grad():
                self.clip.logit_scale.clamp_(0, self.max_log_scale)
            loss = contrastive_loss(image, text, self.clip.logit_scale)
            return dict(loss_contrastive=loss, logit_scale=self.clip.logit_scale.detach().exp())
        if mode in ('tensor', 'predict'):
            return image, text
        raise ValueError(f'unknown mode {mode!r}')
