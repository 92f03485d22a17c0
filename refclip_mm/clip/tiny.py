"""Tiny CLIP architectures for tests, the demo and benchmarks' smoke runs.

All are complete open_clip architecture dicts (as accepted by
:func:`refclip_mm.clip.build_clip`): random weights, a few thousand to a few
hundred thousand parameters per tower, patch size 8, native input 32 px.

* :data:`TINY_OPENAI_ARCH`: the OpenAI-style ViT of open_clip
  (``VisionTransformer``: class token, learned absolute positions, QuickGELU).
* :data:`TINY_EVA_ARCH`: an EVA02-CLIP-style ViT built by timm's ``Eva``
  (rotary positions, SwiGLU MLP with sub-LN, separate q/k/v projections), the
  same block structure as open_clip's ``EVA02-B-16``. Its timm model name,
  :data:`TINY_EVA_TIMM_NAME`, is registered with timm when this module is
  imported.
* :data:`TINY_SIGLIP2_ARCH`: a SigLIP-2-style tower built by timm's
  ``VisionTransformer`` without class token and with an attention-pool (MAP)
  head, inside open_clip's ``TimmModel`` with no extra projection, as in
  open_clip's ``ViT-B-16-SigLIP2`` (its timm model,
  :data:`TINY_SIGLIP2_TIMM_NAME`, is registered likewise; width = ``embed_dim``
  = 32).

The text towers of the first two use the real CLIP tokenizer vocabulary (49408
tokens) with a short context, so prompts can be encoded with open_clip's
tokenizer. The SigLIP 2 text tower has SigLIP 2's structure (no causal mask,
last-token pooling, a Hugging Face tokenizer) with a vocabulary of at most 1000
tokens: :func:`save_tiny_siglip2_tokenizer` trains such a tokenizer here (a small
byte-pair vocabulary, built with the ``tokenizers`` package, nothing downloaded) and
:func:`make_tiny_siglip2_folder` writes a complete open_clip model folder
(``open_clip_config.json``, weights, tokenizer) that ``'local-dir:FOLDER'`` names.
"""
import copy
import json
import os
import os.path as osp
from typing import Any, Dict, Iterable

from timm.models import register_model
from timm.models.eva import Eva
from timm.models.vision_transformer import VisionTransformer

TINY_EVA_TIMM_NAME = 'refclip_tiny_eva02_clip_patch8'
TINY_SIGLIP2_TIMM_NAME = 'refclip_tiny_siglip2_patch8'

_TINY_TEXT_CFG = dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=2)

TINY_OPENAI_ARCH: Dict[str, Any] = dict(
    embed_dim=32,
    quick_gelu=True,
    vision_cfg=dict(image_size=32, layers=3, width=64, head_width=16, patch_size=8),
    text_cfg=dict(_TINY_TEXT_CFG),
)

TINY_EVA_ARCH: Dict[str, Any] = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, timm_model_name=TINY_EVA_TIMM_NAME, timm_model_pretrained=False,
                    timm_pool='token', timm_proj=None),
    text_cfg=dict(_TINY_TEXT_CFG),
    custom_text=True,
)

TINY_SIGLIP2_ARCH: Dict[str, Any] = dict(
    embed_dim=32,
    init_logit_bias=-10,
    vision_cfg=dict(image_size=32, timm_model_name=TINY_SIGLIP2_TIMM_NAME,
                    timm_model_pretrained=False, timm_pool='map', timm_proj='none'),
    text_cfg=dict(context_length=16, vocab_size=1000, hf_tokenizer_name='timm/ViT-B-16-SigLIP2',
                  tokenizer_kwargs=dict(clean='canonicalize'), width=32, heads=2, layers=2,
                  no_causal_mask=True, proj_bias=True, pool_type='last',
                  norm_kwargs=dict(eps=1e-6), act_kwargs=dict(approximate='tanh')),
    custom_text=True,
)


def tiny_arch(kind: str = 'openai') -> Dict[str, Any]:
    """A fresh copy of :data:`TINY_OPENAI_ARCH` (``'openai'``), :data:`TINY_EVA_ARCH`
    (``'eva'``) or :data:`TINY_SIGLIP2_ARCH` (``'siglip2'``)."""
    archs = {'openai': TINY_OPENAI_ARCH, 'eva': TINY_EVA_ARCH, 'siglip2': TINY_SIGLIP2_ARCH}
    if kind not in archs:
        raise ValueError(f'unknown tiny arch {kind!r}; choose one of {sorted(archs)}')
    return copy.deepcopy(archs[kind])


@register_model
def refclip_tiny_eva02_clip_patch8(pretrained: bool = False, **kwargs: Any) -> Eva:
    """timm entry point of the tiny EVA02-CLIP-style tower (64 wide, 3 blocks, patch 8, 32 px)."""
    if pretrained:
        raise ValueError(f'{TINY_EVA_TIMM_NAME} has no pretrained weights')
    for key in ('pretrained_cfg', 'pretrained_cfg_overlay', 'cache_dir'):
        kwargs.pop(key, None)
    args = dict(img_size=32, patch_size=8, embed_dim=64, depth=3, num_heads=4, qkv_fused=False,
                mlp_ratio=4 * 2 / 3, swiglu_mlp=True, scale_mlp=True, scale_attn_inner=True,
                use_rot_pos_emb=True, ref_feat_shape=(4, 4), global_pool='token')
    args.update(kwargs)
    return Eva(**args)


@register_model
def refclip_tiny_siglip2_patch8(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """timm entry point of the tiny SigLIP-2-style tower (32 wide, 3 blocks, patch 8, 32 px, no
    class token, MAP head)."""
    if pretrained:
        raise ValueError(f'{TINY_SIGLIP2_TIMM_NAME} has no pretrained weights')
    for key in ('pretrained_cfg', 'pretrained_cfg_overlay', 'cache_dir'):
        kwargs.pop(key, None)
    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=4, class_token=False,
                global_pool='map')
    args.update(kwargs)
    return VisionTransformer(**args)


def make_tiny_clip(kind: str = 'openai', seed: int = 0):
    """open_clip's own model (``CLIP``/``CustomTextCLIP``) for a tiny arch: seeded random
    weights, eval mode."""
    import open_clip
    import torch
    arch = tiny_arch(kind)
    cls = open_clip.CustomTextCLIP if arch.pop('custom_text', False) else open_clip.CLIP
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return cls(**arch).eval()


def save_tiny_clip(path: str, kind: str = 'openai', seed: int = 0):
    """Write an open_clip-format weight file of a tiny tower; returns the open_clip model."""
    import torch
    model = make_tiny_clip(kind, seed)
    torch.save(model.state_dict(), path)
    return model


# special tokens of the tiny SigLIP 2 tokenizer, at Gemma's ids (the SigLIP 2 tokenizer's)
TINY_SIGLIP2_SPECIALS = ('<pad>', '<eos>', '<bos>', '<unk>')
# words the tiny tokenizer's merges are learned from, besides the prompt templates
TINY_SIGLIP2_WORDS = ('cat', 'dog', 'car', 'person', 'bicycle', 'remote control', 'grass', 'sky',
                      'tree', 'road', 'building', 'red square', 'blue circle', 'background',
                      'zebra', 'hot dog', 'traffic light', 'water', 'wall', 'floor')


def save_tiny_siglip2_tokenizer(folder: str, words: Iterable[str] = (),
                                vocab_size: int = 1000) -> str:
    """Train and save a tiny SigLIP-2-style Hugging Face tokenizer (``tokenizer.json`` +
    ``tokenizer_config.json``) in ``folder``; returns ``folder``.

    A byte-pair vocabulary (at most ``vocab_size`` tokens; every lower-case letter and digit is
    one, so any canonicalised text encodes) learned from the prompt templates,
    :data:`TINY_SIGLIP2_WORDS` and ``words``; Gemma's special tokens and ids (``<pad>`` 0,
    ``<eos>`` 1, ``<bos>`` 2, ``<unk>`` 3), an ``<eos>`` after every text.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import BpeTrainer

    from .text import get_templates
    prompts = get_templates('imagenet80') + get_templates('detection')
    corpus = [p.replace('{}', w) for p in prompts for w in list(TINY_SIGLIP2_WORDS) + list(words)]
    tokenizer = Tokenizer(models.BPE(unk_token='<unk>'))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    alphabet = list('abcdefghijklmnopqrstuvwxyz0123456789')
    tokenizer.train_from_iterator(corpus, BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(TINY_SIGLIP2_SPECIALS),
        initial_alphabet=alphabet, show_progress=False))
    tokenizer.post_processor = processors.TemplateProcessing(
        single='$A <eos>', special_tokens=[('<eos>', TINY_SIGLIP2_SPECIALS.index('<eos>'))])
    os.makedirs(folder, exist_ok=True)
    tokenizer.save(osp.join(folder, 'tokenizer.json'))
    config = dict(tokenizer_class='PreTrainedTokenizerFast',
                  model_max_length=TINY_SIGLIP2_ARCH['text_cfg']['context_length'],
                  pad_token='<pad>', eos_token='<eos>', bos_token='<bos>', unk_token='<unk>')
    with open(osp.join(folder, 'tokenizer_config.json'), 'w', encoding='utf-8') as f:
        json.dump(config, f, indent=2)
    return folder


def make_tiny_siglip2_folder(folder: str, seed: int = 0, words: Iterable[str] = ()):
    """Write a complete open_clip model folder of the tiny SigLIP 2 CLIP: ``open_clip_config.json``
    (:data:`TINY_SIGLIP2_ARCH`, SigLIP's image normalisation), ``open_clip_model.safetensors``
    (seeded random weights, logit bias -10) and the tokenizer of
    :func:`save_tiny_siglip2_tokenizer`.

    Returns:
        ``('local-dir:' + folder, the open_clip model whose weights the folder holds)``; plain
        open_clip loads the folder once this module has registered the tiny timm trunk
        (``import refclip_mm.clip``).
    """
    from .convert import SIGLIP_PREPROCESS, save_local_dir
    model = make_tiny_clip('siglip2', seed)
    save_tiny_siglip2_tokenizer(folder, words)
    name = save_local_dir(folder, model.state_dict(), tiny_arch('siglip2'), tokenizer_dir=folder,
                          preprocess_cfg=SIGLIP_PREPROCESS)
    return name, model
