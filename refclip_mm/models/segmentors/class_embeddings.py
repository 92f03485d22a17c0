"""Class text embeddings of an open-vocabulary segmentor: one file for training, one for testing.

The files are the package's class-embedding files (``refclip_mm.clip.save_class_embeddings``
/ ``tools/build_text_embeddings.py``): prompt-ensembled, L2-normalised rows keyed by class name.
Which rows are used, and in which order, is set by the dataset's class names
(:meth:`ClassEmbeddingBank.select`, called by ``OVClassEmbeddingHook``); without a call the
file's own order is used.
"""
import os.path as osp
from typing import Optional, Sequence, Union

import torch
from torch import nn

from ...clip import ClassEmbeddings, load_class_embeddings
from ...clip.class_names import BACKGROUND_NAMES
from ...clip.text import IN_MEMORY

SPLITS = ('train', 'test')


class ClassEmbeddingBank(nn.Module):
    """Holds the ``T x D`` class embeddings for training and for testing.

    The embeddings are non-persistent buffers: they follow the model's device
    but are not saved in checkpoints (they come from the files, per dataset).

    Args:
        train_file: class-embedding file used in training mode (may be ``None``
            for evaluation-only models).
        test_file: file used in eval mode (validation / test); ``None`` = ``train_file``.
            Either may also be the embeddings themselves (a
            :class:`~refclip_mm.clip.ClassEmbeddings`); :meth:`set_embeddings` swaps them later.
        text_dim: expected embedding dimension ``D`` (the CLIP joint embedding
            dimension); a file of another dimension is refused. ``None`` accepts any.
    """

    def __init__(self, train_file: Union[None, str, ClassEmbeddings],
                 test_file: Union[None, str, ClassEmbeddings] = None,
                 text_dim: Optional[int] = None):
        super().__init__()
        if train_file is None and test_file is None:
            raise ValueError('give at least one class-embedding file (class_embeddings= or '
                             'test_class_embeddings=); make one with tools/build_text_embeddings.py')
        self.files = dict(train=train_file, test=test_file or train_file)
        self.text_dim = text_dim
        self.names = {}
        for split in SPLITS:
            self.register_buffer(f'{split}_embeddings', torch.zeros(0), persistent=False)
            if self.files[split] is not None:
                self._load(split, None)

    def _load(self, split: str, names: Optional[Sequence[str]]) -> None:
        path = self.files[split]
        if path is None:
            raise ValueError(f'no {split} class-embedding file configured')
        if isinstance(path, ClassEmbeddings):
            data, path = path, IN_MEMORY
        elif not osp.isfile(path):
            raise FileNotFoundError(f'class-embedding file not found: {path!r} ({split}); make it '
                                    'with tools/build_text_embeddings.py')
        else:
            data = load_class_embeddings(path)
        if self.text_dim is not None and data.embeddings.shape[1] != self.text_dim:
            raise ValueError(f'{path!r} holds {data.embeddings.shape[1]}-d text embeddings (model '
                             f'{data.model!r}) but the segmentor expects {self.text_dim}-d: build the '
                             'file with the same CLIP model as the image tower')
        if names is None:
            rows, names = data.embeddings, list(data.names)
        else:
            rows = data.select(list(names), BACKGROUND_NAMES, source=path)
        buf = getattr(self, f'{split}_embeddings')
        setattr(self, f'{split}_embeddings', rows.to(device=buf.device, dtype=torch.float32))
        self.names[split] = list(names)

    def select(self, names: Sequence[str], split: str) -> None:
        """Use the rows of ``names`` (a dataset's classes, in label order) for ``split``.

        A name absent from the file raises ``KeyError`` naming it; ``background``
        falls back to the file's background embedding.
        """
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        self._load(split, names)

    def set_embeddings(self, embeddings: ClassEmbeddings, split: str) -> None:
        """Use ``embeddings`` (all its rows, in its order) for ``split`` from now on."""
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        self.files[split] = embeddings
        self._load(split, None)

    def embeddings(self, training: bool) -> torch.Tensor:
        """``T x D`` embeddings of the train (``training``) or test split."""
        split = 'train' if training else 'test'
        emb = getattr(self, f'{split}_embeddings')
        if emb.numel() == 0:
            raise RuntimeError(f'no {split} class embeddings: set the {split} class-embedding file')
        return emb

    def file(self, training: bool) -> str:
        """The file the train / test embeddings come from (or that they were given in memory)."""
        source = self.files['train' if training else 'test']
        return IN_MEMORY if isinstance(source, ClassEmbeddings) else source

    def num_classes(self, training: bool) -> int:
        split = 'train' if training else 'test'
        emb = getattr(self, f'{split}_embeddings')
        return int(emb.shape[0])

    def check_dense_dim(self, dense: torch.Tensor, training: bool) -> None:
        """Raise unless the dense map's channel dim equals the embeddings' ``D``."""
        dim = self.embeddings(training).shape[1]
        if dense.shape[1] != dim:
            raise ValueError(f'the image tower gives {dense.shape[1]}-d dense features but the '
                             f'class embeddings in {self.file(training)!r} are {dim}-d: use '
                             'embeddings built with the same CLIP model')
