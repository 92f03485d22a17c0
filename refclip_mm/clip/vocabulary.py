"""A vocabulary given at run time: the user's words, embedded by a CLIP text tower, cached.

:func:`parse_words` turns what a user writes (``'cat . remote control'``, ``'cat, remote
control'`` or a list of words) into the list of class names; :class:`VocabularyEncoder` embeds
such a list with the same prompt ensemble as ``tools/build_text_embeddings.py``
(:func:`~refclip_mm.clip.text.build_class_embeddings`) and keeps the result per vocabulary,
in memory and optionally on disk, so asking for the same words again computes nothing.
"""
import hashlib
import json
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .text import (ClassEmbeddings, CLIPTextTower, TemplatesType, build_class_embeddings,
                   get_templates, load_class_embeddings, prompt_name, save_class_embeddings)

WordsType = Union[str, Sequence[str]]
# between words: a comma, a newline, or a full stop followed by a space / the end ('cat . dog .')
WORD_SEPARATORS = re.compile(r'\s*(?:,|\n|\.(?=\s|$))\s*')


def word_key(word: str) -> str:
    """The form two words are compared in: as prompted (``_`` -> space), lower case (CLIP's
    tokenizer lower-cases), single spaces."""
    return ' '.join(prompt_name(word).lower().split())


def parse_words(texts: Optional[WordsType]) -> List[str]:
    """The class names of a vocabulary.

    Args:
        texts: one string with the words separated by commas, newlines or ``' . '`` (mmdet's
            ``'cat . remote control .'``), or a list of words (each taken whole).

    Returns:
        the words in the order given, surrounding and repeated spaces removed, a word repeated
        (compared by :func:`word_key`) kept once.

    Raises:
        ValueError: no word at all (the message says how to give them).
        TypeError: neither a string nor a list of strings.
    """
    if texts is None:
        parts = []
    elif isinstance(texts, str):
        parts = WORD_SEPARATORS.split(texts)
    elif isinstance(texts, (list, tuple)) and all(isinstance(t, str) for t in texts):
        parts = list(texts)
    else:
        raise TypeError(f'the vocabulary must be a string ("cat, remote control") or a list of '
                        f'strings, got {type(texts).__name__}')
    words, seen = [], set()
    for part in parts:
        word = ' '.join(part.split())
        if word and word_key(word) not in seen:
            seen.add(word_key(word))
            words.append(word)
    if not words:
        raise ValueError('empty vocabulary: give at least one word, e.g. texts="cat, remote '
                         'control" (tools/infer.py --words "cat, remote control" or --words-file '
                         'FILE with one word per line)')
    return words


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + '...'


def tower_fingerprint(tower: CLIPTextTower) -> str:
    """SHA-1 of the text tower's weights (names, shapes and values): two towers with the same
    fingerprint give the same embeddings."""
    digest = hashlib.sha1()
    for name, tensor in sorted(tower.state_dict().items()):
        digest.update(f'{name}:{tuple(tensor.shape)}:{tensor.dtype}'.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class VocabularyEncoder:
    """Class-name embeddings of any vocabulary from one text tower, computed once per vocabulary.

    Args:
        text_tower: the CLIP text tower of the image tower in use.
        templates: prompt templates (a set name or a list, :func:`get_templates`).
        background: the name whose prompts make the background embedding.
        model: the CLIP model name recorded with the embeddings.
        cache_dir: folder for an on-disk cache (one class-embedding file per vocabulary, named
            by a hash of the tower's weights, the templates and the words); ``None``: memory only.
        logit_scale / logit_bias: the CLIP's scale (not its log) and, for a sigmoid-trained
            tower (SigLIP, SigLIP 2), its bias, recorded with the embeddings
            (``CLIPTowers.scores()``).

    :meth:`encode` returns what :func:`~refclip_mm.clip.text.make_class_embeddings` returns for
    the same words (the rows of ``tools/build_text_embeddings.py``, bit for bit).
    """

    def __init__(self, text_tower: CLIPTextTower, templates: TemplatesType = 'imagenet80',
                 background: str = 'background', model: str = '',
                 cache_dir: Optional[str] = None, logit_scale: Optional[float] = None,
                 logit_bias: Optional[float] = None):
        self.tower = text_tower
        self.scores = dict(logit_scale=logit_scale, logit_bias=logit_bias)
        self.templates = get_templates(templates)
        self.background_name = background
        self.model = model
        self.cache_dir = cache_dir
        self._cache: Dict[Tuple[str, ...], ClassEmbeddings] = {}
        self._background: Optional[torch.Tensor] = None
        self._fingerprint: Optional[str] = None

    @property
    def context_length(self) -> Optional[int]:
        """Tokens the text tower reads, start and end tokens included."""
        for owner in (self.tower.text, self.tower.tokenizer):
            length = getattr(owner, 'context_length', None)
            if length:
                return int(length)
        return None

    def check_words(self, words: Sequence[str]) -> None:
        """Raise ``ValueError`` naming the first word whose longest prompt does not fit the text
        tower's context (the tokenizer would cut it off silently)."""
        context = self.context_length
        if context is None:
            return
        prompts = [(w, t.replace('{}', prompt_name(w))) for w in words for t in self.templates]
        try:
            tokens = self.tower.tokenizer([p for _, p in prompts], context_length=4 * context)
        except TypeError:  # a tokenizer without a context_length argument: nothing to check
            return
        lengths = (tokens != self.tower.pad_id).sum(dim=1)
        over = (lengths > context).nonzero()
        if len(over):
            word, prompt = (_short(text) for text in prompts[int(over[0])])
            raise ValueError(f'the word {word!r} is too long for the text tower: its prompt '
                             f'{prompt!r} takes {int(lengths[over[0]])} tokens and the context '
                             f'holds {context} (start and end tokens included); shorten the word'
                             + ('' if len(self.templates) == 1 else ' or use shorter templates '
                                '(templates="single"; tools/infer.py --templates single)'))

    def background(self) -> torch.Tensor:
        """The background prompt's embedding (``D``), computed once."""
        if self._background is None:
            self._background = build_class_embeddings(self.tower, [self.background_name],
                                                      self.templates)[0]
        return self._background

    def cache_file(self, words: Sequence[str]) -> Optional[str]:
        """Where the on-disk cache keeps ``words``' embeddings (``None`` without a cache dir)."""
        if self.cache_dir is None:
            return None
        if self._fingerprint is None:
            self._fingerprint = tower_fingerprint(self.tower)
        key = json.dumps([self._fingerprint, self.templates, self.background_name, list(words)]
                         + ([self.scores] if any(v is not None for v in self.scores.values()) else []))
        return osp.join(self.cache_dir, hashlib.sha1(key.encode()).hexdigest()[:20] + '.pth')

    def encode(self, texts: WordsType) -> ClassEmbeddings:
        """Embeddings of the vocabulary ``texts`` (see :func:`parse_words`), computed by the text
        tower only the first time these words, in this order, are asked for."""
        words = parse_words(texts)
        key = tuple(words)
        if key in self._cache:
            return self._cache[key]
        path = self.cache_file(words)
        if path is not None and osp.isfile(path):
            result = load_class_embeddings(path)
            if result.names != words:  # a hash collision: compute them
                result = None
        else:
            result = None
        if result is None:
            self.check_words(words)
            rows = build_class_embeddings(self.tower, words, self.templates)
            result = ClassEmbeddings(words, rows, self.background(), list(self.templates),
                                     self.model, **self.scores)
            if path is not None:
                save_class_embeddings(path, result)
        self._cache[key] = result
        return result
