"""OVClassEmbeddingHook: give the open-vocabulary heads the class names of the datasets in use."""
from typing import List

from mmengine.hooks import Hook

from ..registry import HOOKS


def ov_heads(model) -> List:
    """Every sub-module with ``set_class_names`` (the open-vocabulary decode heads)."""
    return [m for m in model.modules() if callable(getattr(m, 'set_class_names', None))]


def dataset_classes(loader) -> List[str]:
    """``metainfo['classes']`` of a dataloader's dataset (also when wrapped)."""
    dataset = loader.dataset
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    if not classes:
        raise ValueError(f'{type(dataset).__name__} has no metainfo["classes"]: the open-vocabulary '
                         'head needs the dataset\'s class names to pick its text embeddings')
    return list(classes)


@HOOKS.register_module()
class OVClassEmbeddingHook(Hook):
    """Switch the heads' class embeddings to the classes of the dataset being run.

    Before training the train embeddings take the training set's classes (in its
    label order); before validation / testing the test embeddings take the
    val / test set's classes. A class missing from the embedding file raises
    ``KeyError`` naming it; so does an embedding file of another dimension
    (``ValueError``), at this point rather than deep inside the first forward.
    """

    priority = 'VERY_HIGH'

    def _apply(self, runner, loader, split: str) -> None:
        heads = ov_heads(runner.model)
        if not heads:
            raise ValueError('OVClassEmbeddingHook found no open-vocabulary head in the model '
                             '(CatSegOVHead / DenseCosineOVHead)')
        names = dataset_classes(loader)
        for head in heads:
            head.set_class_names(names, split)
        runner.logger.info(f'open-vocabulary {split} classes: {len(names)} '
                           f'({", ".join(names[:5])}{", ..." if len(names) > 5 else ""})')

    def before_train(self, runner) -> None:
        self._apply(runner, runner.train_dataloader, 'train')
        if runner.val_loop is not None:
            self._apply(runner, runner.val_dataloader, 'test')

    def before_val(self, runner) -> None:
        self._apply(runner, runner.val_dataloader, 'test')

    def before_test(self, runner) -> None:
        self._apply(runner, runner.test_dataloader, 'test')
