"""The files tests build, made in one place and written by the package's own public functions
(the ones the tools use), so a test reads the same files a user's run would:

* tiny CLIP weight files (:func:`refclip_mm.clip.save_tiny_clip`);
* class-embedding files (:func:`refclip_mm.clip.save_class_embeddings`), of given or random
  rows, or made by a tiny CLIP's text tower as ``tools/build_text_embeddings.py`` makes them;
* Refiner files (:func:`refclip_mm.models.refiner_file.save_refiner`, the format
  ``tools/export_refiner.py`` writes), of a given or a random non-identity Refiner.

Session-wide files built from these are fixtures in ``tests/conftest.py``.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from refclip_mm.clip import (ClassEmbeddings, build_text_tower, make_class_embeddings,
                             save_class_embeddings, save_tiny_clip, tiny_arch)
from refclip_mm.models.backbones import Refiner
from refclip_mm.models.refiner_file import save_refiner

TINY_EMBED_DIM = 32  # embed_dim of the tiny CLIPs (refclip_mm.clip.tiny)


def tiny_clip_file(path, kind: str = 'openai', seed: int = 0):
    """Write a tiny CLIP weight file (open_clip format, seeded random weights) at ``path``.

    Args:
        kind: ``'openai'``, ``'eva'`` or ``'siglip2'`` (:func:`refclip_mm.clip.tiny_arch`).

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


def random_refiner(dim: int = TINY_EMBED_DIM, depth: int = 2, num_heads: int = 4,
                   mlp_ratio: float = 4.0, out_std: float = 0.05, seed: Optional[int] = 0) -> Refiner:
    """A :class:`Refiner` whose output layer is drawn from N(0, ``out_std``^2), so it is not
    the identity (an untrained Refiner is).

    Args:
        seed: seeds torch's global generator first; None: draws from it as it is.
    """
    if seed is not None:
        torch.manual_seed(seed)
    refiner = Refiner(dim=dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio)
    torch.nn.init.normal_(refiner.out.weight, std=out_std)
    return refiner


def refiner_file(path, refiner: Optional[Refiner] = None, token_space: str = 'projected',
                 clip_model=None, **random) -> Refiner:
    """Write a Refiner file at ``path``.

    Args:
        refiner: the Refiner to write; None: :func:`random_refiner` with the ``random`` options
            (``dim``, ``depth``, ``num_heads``, ``mlp_ratio``, ``out_std``, ``seed``).
        token_space: ``'projected'`` (``dim`` = the CLIP's embed_dim) or ``'width'``.
        clip_model: the CLIP it refines (open_clip name or arch); None: the tiny OpenAI CLIP.

    Returns:
        the Refiner written.
    """
    if refiner is None:
        refiner = random_refiner(**random)
    elif random:
        raise TypeError(f'give a refiner or options for a random one, not both: {sorted(random)}')
    save_refiner(refiner, str(path), token_space,
                 tiny_arch('openai') if clip_model is None else clip_model)
    return refiner
