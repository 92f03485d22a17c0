"""The files tests build, made in one place and written by the package's own public functions
(the ones the tools use), so a test reads the same files a user's run would:

* tiny CLIP weight files (:func:`refclip_mm.clip.save_tiny_clip`);
* class-embedding files (:func:`refclip_mm.clip.save_class_embeddings`), of given or random
  rows, or made by a tiny CLIP's text tower as ``tools/build_text_embeddings.py`` makes them.

Session-wide files built from these are fixtures in ``tests/conftest.py``.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from refclip_mm.clip import (ClassEmbeddings, build_text_tower, make_class_embeddings,
                             save_class_embeddings, save_tiny_clip, tiny_arch)

TINY_EMBED_DIM = 32  # embed_dim of both tiny CLIPs (refclip_mm.clip.tiny)


def tiny_clip_file(path, kind: str = 'openai', seed: int = 0):
    """Write a tiny CLIP weight file (open_clip format, seeded random weights) at ``path``.

    Args:
        kind: ``'openai'`` or ``'eva'`` (:func:`refclip_mm.clip.tiny_arch`).

    Returns:
        the open_clip model whose weights were written.
    """
    return save_tiny_clip(str(path), kind, seed)


def class_embeddings_file(path, names: Sequence[str], embeddings: Optional[torch.Tensor] = None,
                          background: Optional[torch.Tensor] = None, dim: int = TINY_EMBED_DIM,
                          seed: int = 0) -> ClassEmbeddings:
    """Write a class-embedding file of ``names`` at ``path``.

    Args:
        embeddings: the rows (``len(names) x D``); None: seeded random unit vectors
            (``len(names) x dim``).
        background: the background row (``D``); None: the first row.

    Returns:
        what was written.
    """
    if embeddings is None:
        g = torch.Generator().manual_seed(seed)
        embeddings = F.normalize(torch.randn(len(names), dim, generator=g), dim=-1)
    background = embeddings[0] if background is None else background
    written = ClassEmbeddings(list(names), embeddings, background, ['{}'], 'test')
    save_class_embeddings(str(path), written)
    return written


def text_embeddings_file(path, names: Sequence[str], clip_file: Optional[str] = None,
                         kind: str = 'openai', templates='single') -> ClassEmbeddings:
    """Write the class-embedding file of ``names`` made by a tiny CLIP's text tower.

    Args:
        clip_file: the tiny CLIP's weights (:func:`tiny_clip_file`); None: random init.
        kind: the tiny CLIP (``'openai'`` / ``'eva'``).
        templates: prompt templates (:func:`refclip_mm.clip.get_templates`).

    Returns:
        what was written (``len(names) x 32`` unit rows and a background row).
    """
    text = build_text_tower(tiny_arch(kind), clip_file)
    made = make_class_embeddings(text, list(names), templates=templates, model=f'tiny-{kind}')
    save_class_embeddings(str(path), made)
    return made
