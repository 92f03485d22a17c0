"""Shared part of the open-vocabulary decode heads: class count follows the class embeddings."""
from typing import Optional, Sequence

from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from ...clip import ClassEmbeddings
from .class_embeddings import ClassEmbeddingBank


class OVDecodeHeadBase(BaseDecodeHead):
    """A ``BaseDecodeHead`` whose classes are the rows of a class-embedding file.

    ``num_classes`` / ``out_channels`` are the number of rows of the train
    (training mode) or test (eval mode) embeddings, so one trained head
    evaluates any vocabulary. Subclasses call :meth:`_init_bank` before
    ``BaseDecodeHead.__init__`` and pass its class count.

    Args (of subclasses):
        class_embeddings: class-embedding file for training.
        test_class_embeddings: file for validation / test (default: the training file).
    """

    @staticmethod
    def _init_bank(class_embeddings: Optional[str], test_class_embeddings: Optional[str],
                   text_dim: Optional[int]) -> ClassEmbeddingBank:
        return ClassEmbeddingBank(class_embeddings, test_class_embeddings, text_dim)

    def _attach_bank(self, bank: ClassEmbeddingBank) -> None:
        self.class_bank = bank

    @property
    def num_classes(self) -> int:
        bank = self.__dict__.get('_modules', {}).get('class_bank')
        if bank is None:  # during BaseDecodeHead.__init__
            return self.__dict__.get('_init_num_classes')
        return bank.num_classes(self.training)

    @num_classes.setter
    def num_classes(self, value: int) -> None:
        self.__dict__['_init_num_classes'] = value

    @property
    def out_channels(self) -> int:
        return self.num_classes

    @out_channels.setter
    def out_channels(self, value: int) -> None:
        pass

    def set_class_names(self, names: Sequence[str], split: str) -> None:
        """Use the embedding rows of ``names`` (a dataset's classes in label order) for
        ``split`` (``'train'`` or ``'test'``); see :class:`ClassEmbeddingBank`."""
        self.class_bank.select(names, split)

    def set_vocabulary(self, embeddings: ClassEmbeddings, split: str = 'test') -> None:
        """Segment into the classes of ``embeddings`` (a vocabulary embedded at run time, all its
        rows in its order) in ``split``'s mode from now on; nothing is rebuilt."""
        self.class_bank.set_embeddings(embeddings, split)
