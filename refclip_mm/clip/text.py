"""Text side: prompt templates, the text tower, class-name embeddings and their file.

The class-embedding file (written by :func:`save_class_embeddings` and
``tools/build_text_embeddings.py``) is a ``torch.save``-d dict of tensors,
lists and strings only, so the package's safe loader reads it:

* ``names``: list of N class names (the keys; as in the dataset),
* ``embeddings``: N x D float tensor, rows L2-normalised,
* ``background``: D float tensor (L2-normalised embedding of the background prompt),
* ``templates``: list of the prompt templates (``{}`` marks the class name),
* ``model``: the CLIP model name the embeddings were made with;
* ``logit_scale`` / ``logit_bias`` (optional): the scale (not its log) and, for a
  sigmoid-trained tower (SigLIP, SigLIP 2), the bias of the CLIP the text tower belongs
  to, for the consumers that turn cosines into scores (docs/method.md section 2.4);
  ``None`` where unknown / for a softmax-trained CLIP.
"""
from dataclasses import dataclass, replace
from typing import Callable, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.atomic import atomic_torch_save
from ..utils.checkpoint import CheckpointError, load_checkpoint_file

TemplatesType = Union[str, Sequence[str]]

# Prompts for object detection: whole objects of any size, partly visible, in a scene.
DETECTION_TEMPLATES = (
    'a photo of a {}.',
    'a photo of the {}.',
    'a photo of one {}.',
    'a photo of a small {}.',
    'a photo of a large {}.',
    'a cropped photo of a {}.',
    'a close-up photo of a {}.',
    'a photo of part of a {}.',
    'a photo of a {} in the scene.',
    'a blurry photo of a {}.',
    'there is a {} in the scene.',
    'an image that contains a {}.',
)


def _imagenet_templates() -> List[str]:
    from open_clip import OPENAI_IMAGENET_TEMPLATES
    return [template('{}') for template in OPENAI_IMAGENET_TEMPLATES]


TEMPLATE_SETS = {
    'single': lambda: ['a photo of a {}.'],
    'imagenet80': _imagenet_templates,
    'detection': lambda: list(DETECTION_TEMPLATES),
}


def get_templates(templates: TemplatesType = 'imagenet80') -> List[str]:
    """A named template set (``single``, ``imagenet80``, ``detection``) or a list of
    templates, each with one ``{}`` where the class name goes."""
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise ValueError(f'unknown template set {templates!r}; choose one of '
                             f'{sorted(TEMPLATE_SETS)} or pass a list of strings with "{{}}"')
        return TEMPLATE_SETS[templates]()
    templates = list(templates)
    bad = [t for t in templates if not isinstance(t, str) or t.count('{}') != 1]
    if not templates or bad:
        raise ValueError(f'templates must be strings with exactly one "{{}}"; bad: {bad[:3]}')
    return templates


def prompt_name(name: str) -> str:
    """Class name as written in a prompt (LVIS-style underscores become spaces)."""
    return name.replace('_', ' ').strip()


def sequence_length(tokens: torch.Tensor, pad_id: int = 0) -> int:
    """Length of the longest sequence in ``tokens`` (``N x L`` ids padded at the end with ``pad_id``)."""
    used = (tokens != pad_id).any(dim=0).nonzero()
    return int(used[-1]) + 1 if len(used) else int(tokens.shape[1])


def can_trim(text: nn.Module) -> bool:
    """Whether dropping trailing padding leaves ``text``'s output unchanged.

    True for open_clip's ``TextTransformer`` with a causal mask, no class token, no
    padding mask and end-of-text pooling (``argmax`` / ``eos``): every position only
    attends to earlier ones and the pooled one is the end-of-text token, so the
    padding after it never reaches the output. That is every CLIP / EVA-CLIP text tower.
    """
    from open_clip.transformer import TextTransformer
    return (isinstance(text, TextTransformer) and getattr(text, 'cls_emb', None) is None
            and getattr(text, 'attn_mask', None) is not None
            and not getattr(text, 'use_pad_mask', False)
            and getattr(text, 'pool_type', None) in ('argmax', 'eos')
            and not getattr(text, 'output_tokens', False))


class CLIPTextTower(nn.Module):
    """open_clip's text tower with its tokenizer.

    Args:
        text: open_clip ``TextTransformer`` (state-dict keys ``text.*``).
        tokenizer: callable turning a list of strings into ``N x context_length`` token ids
            (open_clip's CLIP BPE tokenizer, or its ``HFTokenizer`` on a local folder for
            SigLIP / SigLIP 2).

    A SigLIP text tower (no causal mask, the last position pooled) runs over the whole padded
    context, as open_clip's ``encode_text`` does; only causal towers are trimmed
    (:func:`can_trim`).
    """

    def __init__(self, text: nn.Module, tokenizer: Callable):
        super().__init__()
        self.text = text
        self.tokenizer = tokenizer
        self.trimmable = can_trim(text)

    @property
    def embed_dim(self) -> int:
        return int(self.text.output_dim)

    @property
    def pad_id(self) -> int:
        """The id the tokenizer pads with (a Hugging Face tokenizer's own, else the tower's)."""
        hf = getattr(self.tokenizer, 'tokenizer', None)
        pad = getattr(hf, 'pad_token_id', None)
        return int(pad) if pad is not None else int(getattr(self.text, 'pad_id', 0))

    def encode_text(self, texts: Union[Sequence[str], torch.Tensor],
                    normalize: bool = False, trim: bool = True) -> torch.Tensor:
        """Strings (or token ids ``N x L``) -> text embeddings ``N x D``.

        ``trim`` (default) runs the transformer only up to the longest prompt of the
        batch when :func:`can_trim` allows it (same output up to float rounding);
        ``trim=False`` is open_clip's forward over the whole context.
        """
        if not isinstance(texts, torch.Tensor):
            texts = self.tokenizer(list(texts))
        device = next(self.text.parameters()).device
        texts = texts.to(device)
        if trim and self.trimmable:
            features = self._forward_trimmed(texts)
        else:
            features = self.text(texts)
            if isinstance(features, tuple):
                features = features[0]
        return F.normalize(features, dim=-1) if normalize else features

    forward = encode_text

    def _forward_trimmed(self, tokens: torch.Tensor) -> torch.Tensor:
        """open_clip's text forward on ``tokens[:, :n]``, n the longest prompt (``N x D``).

        The positional embeddings and the causal mask are cut to the same ``n``.
        """
        from open_clip.transformer import text_global_pool
        text = self.text
        n = sequence_length(tokens, getattr(text, 'pad_id', 0))
        tokens = tokens[:, :n]
        dtype = text.transformer.get_cast_dtype()
        x = text.token_embedding(tokens).to(dtype) + text.positional_embedding[:n].to(dtype)
        x = text.transformer(x, attn_mask=text.attn_mask[:n, :n])
        x = text.ln_final(x)
        pooled = text_global_pool(x, tokens, pool_type=text.pool_type,
                                  eos_token_id=getattr(text, 'eos_id', None))
        projection = text.text_projection
        if projection is None:
            return pooled
        return projection(pooled) if isinstance(projection, nn.Linear) else pooled @ projection


@torch.no_grad()
def build_class_embeddings(text_tower: CLIPTextTower, names: Sequence[str],
                           templates: TemplatesType = 'imagenet80',
                           batch_size: int = 256, trim: bool = True) -> torch.Tensor:
    """Prompt-ensembled class embeddings.

    Each class name is put into every template, the prompts are encoded and
    L2-normalised, averaged over templates and normalised again. With ``trim``
    (default) the prompts are encoded shortest first and each batch only up to
    its longest prompt (:meth:`CLIPTextTower.encode_text`); ``trim=False``
    encodes them in order over the whole context (same result up to float
    rounding, several times slower on CPU).

    Returns:
        ``N x D`` float tensor (rows L2-normalised), in the order of ``names``.
    """
    names = list(names)
    if not names:
        raise ValueError('no class names given')
    template_list = get_templates(templates)
    prompts = [t.replace('{}', prompt_name(n)) for n in names for t in template_list]
    tokens = text_tower.tokenizer(prompts)
    order = torch.arange(len(prompts))
    if trim and text_tower.trimmable:  # similar lengths share a batch
        lengths = (tokens != getattr(text_tower.text, 'pad_id', 0)).sum(dim=1)
        order = torch.argsort(lengths, stable=True)
    chunks = [text_tower.encode_text(tokens[order[i:i + batch_size]], normalize=True,
                                     trim=trim).float().cpu()
              for i in range(0, len(prompts), batch_size)]
    per_prompt = torch.empty(len(prompts), chunks[0].shape[1])
    per_prompt[order] = torch.cat(chunks)
    per_prompt = per_prompt.reshape(len(names), len(template_list), -1)
    return F.normalize(per_prompt.mean(dim=1), dim=-1)


@dataclass
class ClassEmbeddings:
    """Class-name embeddings keyed by name (see the module docstring for the file)."""
    names: List[str]
    embeddings: torch.Tensor
    background: torch.Tensor
    templates: List[str]
    model: str
    logit_scale: Optional[float] = None
    logit_bias: Optional[float] = None

    def select(self, names: Sequence[str], background_names: Sequence[str] = (),
               source: Optional[str] = None) -> torch.Tensor:
        """Rows for ``names`` in that order (``len(names) x D``): the one way to pick class
        embeddings by name.

        Args:
            names: class names (a dataset's classes, in label order).
            background_names: names served by the :attr:`background` row when the file has no
                row of their own (e.g. :data:`~refclip_mm.clip.class_names.BACKGROUND_NAMES`).
            source: where the embeddings come from (a file), named in the error.

        Raises:
            KeyError: naming the absent classes and how to build a file that has them.
        """
        index = {n: i for i, n in enumerate(self.names)}
        absent = [n for n in names if n not in index and n not in background_names]
        if absent:
            where = repr(source) if source else 'the class-embedding file'
            raise KeyError(f'{where} has no embedding for {len(absent)} of the {len(names)} '
                           f'classes asked for: {absent[:10]}{" ..." if len(absent) > 10 else ""}; '
                           f'it holds {len(self.names)} classes (e.g. {self.names[:5]}). Build '
                           'the file for these classes (tools/build_text_embeddings.py '
                           '--dataset/--names/--ann).')
        if all(n in index for n in names):
            return self.embeddings[[index[n] for n in names]]
        return torch.stack([self.embeddings[index[n]] if n in index else self.background
                            for n in names])

    @property
    def sigmoid(self) -> bool:
        """Whether the embeddings come from a sigmoid-trained CLIP (the file records its bias)."""
        return self.logit_bias is not None

    def subset(self, names: Sequence[str], background_names: Sequence[str] = (),
               source: Optional[str] = None) -> 'ClassEmbeddings':
        """The same embeddings with only the rows of ``names`` (:meth:`select`), in that order."""
        return replace(self, names=list(names),
                       embeddings=self.select(names, background_names, source=source))

    def to_dict(self) -> dict:
        data = dict(names=list(self.names), embeddings=self.embeddings.float().contiguous(),
                    background=self.background.float().contiguous(),
                    templates=list(self.templates), model=str(self.model))
        for key in ('logit_scale', 'logit_bias'):
            if getattr(self, key) is not None:
                data[key] = float(getattr(self, key))
        return data


def make_class_embeddings(text_tower: CLIPTextTower, names: Sequence[str],
                          templates: TemplatesType = 'imagenet80', background: str = 'background',
                          model: str = '', logit_scale: Optional[float] = None,
                          logit_bias: Optional[float] = None) -> ClassEmbeddings:
    """Embeddings of ``names`` plus the ``background`` prompt's, ready to save; ``logit_scale``
    (the scale, not its log) and ``logit_bias`` are recorded with them (``CLIPTowers.scores()``)."""
    if len(set(names)) != len(names):
        dups = sorted({n for n in names if list(names).count(n) > 1})
        raise ValueError(f'duplicate class names: {dups[:10]}')
    emb = build_class_embeddings(text_tower, names, templates)
    bg = build_class_embeddings(text_tower, [background], templates)[0]
    return ClassEmbeddings(list(names), emb, bg, get_templates(templates), model,
                           logit_scale=logit_scale, logit_bias=logit_bias)


def save_class_embeddings(path: str, embeddings: ClassEmbeddings) -> None:
    """Write the class-embedding file (tensors, lists and strings only), atomically; missing
    folders are created."""
    atomic_torch_save(embeddings.to_dict(), path)


IN_MEMORY = 'the vocabulary given in memory'  # how errors name embeddings that are no file


def as_class_embeddings(source: Union[str, ClassEmbeddings],
                        names: Optional[Sequence[str]] = None) -> ClassEmbeddings:
    """A class-embedding file read by :func:`load_class_embeddings`, or ``source`` itself when it
    is a :class:`ClassEmbeddings` already in memory (a vocabulary embedded at run time); with
    ``names``, only those rows, in that order (raises on absent ones)."""
    if not isinstance(source, ClassEmbeddings):
        return load_class_embeddings(source, names)
    if names is None:
        return source
    return source.subset(names, source=IN_MEMORY)


def load_class_embeddings(path: str, names: Optional[Sequence[str]] = None) -> ClassEmbeddings:
    """Read a class-embedding file through the safe loader.

    Args:
        path: file written by :func:`save_class_embeddings`.
        names: if given, keep only these classes, in this order (raises on absent ones).
    """
    data = load_checkpoint_file(path)
    required = ('names', 'embeddings', 'background')
    if not isinstance(data, dict) or any(k not in data for k in required):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f'{path!r} is not a class-embedding file: it needs {required}, '
                              f'has {keys}')
    emb = data['embeddings']
    if emb.dim() != 2 or emb.shape[0] != len(data['names']) or data['background'].shape != emb.shape[1:]:
        raise CheckpointError(f'{path!r}: embeddings {tuple(emb.shape)}, background '
                              f'{tuple(data["background"].shape)} and {len(data["names"])} names '
                              'do not fit together')
    scores = {k: None if data.get(k) is None else float(data[k])
              for k in ('logit_scale', 'logit_bias')}
    result = ClassEmbeddings(list(data['names']), emb.float(), data['background'].float(),
                             list(data.get('templates', [])), str(data.get('model', '')), **scores)
    if names is not None:
        result = result.subset(names, source=path)
    return result
