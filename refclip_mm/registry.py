"""The one place that decides how refclip_mm's modules are registered.

Decision: refclip_mm owns an mmengine registry scope named ``refclip_mm``
(children of mmengine's root registries, like mmdet's and mmseg's own), and
every module registered in it is *mirrored* into the matching mmdet and mmseg
registries. That makes both ways of using the package work:

(a) an existing mmdet / mmseg config (``default_scope='mmdet'`` or ``'mmseg'``)
    with ``custom_imports=dict(imports=['refclip_mm'])`` and plain names such
    as ``type='CLIPViT'``: ``import refclip_mm`` registers everything, and the
    mirrored copies are found in the config's own scope;
(b) any config with a scope-qualified name such as ``type='refclip_mm.CLIPViT'``
    and no ``custom_imports``: mmengine imports ``refclip_mm.registry`` on
    seeing the ``refclip_mm.`` prefix, and each registry's ``locations`` import
    the modules that fill it.

Our own configs use ``default_scope='refclip_mm'`` for the CLIP-training stages
and ``default_scope='mmdet'`` / ``'mmseg'`` for the downstream detectors and
segmentors, exactly like a user's config would.

Name clashes. Within the ``refclip_mm`` scope a taken name raises ``KeyError`` (our own
mistake). A name that mmdet or mmseg already binds to a *different* class (say a future mmdet
adds its own ``CLIPViT``) is checked before mirroring and is *not* mirrored: the host keeps
its class under the plain name, and a :class:`MirrorClashWarning` names our class, the
registry, and that ``type='refclip_mm.<Name>'`` still reaches ours. A warning rather than an
error, because raising would make ``import refclip_mm`` fail as a whole, for the
scope-qualified configs that the clash does not affect too, over a change in another package;
a guest does not evict the host's class either. ``tests/test_registry.py`` checks that every
registration is mirrored in the tested stack, so a clash introduced by us still fails there.
Make the warning an error with ``-W error::refclip_mm.registry.MirrorClashWarning`` (or
``warnings.simplefilter('error', MirrorClashWarning)`` before the import).
"""
import warnings
from typing import List, Optional, Sequence, Type, Union

from mmdet import registry as mmdet_registry
from mmengine import registry as mmengine_registry
from mmengine.registry import Registry
from mmseg import registry as mmseg_registry

SCOPE = 'refclip_mm'


class MirrorClashWarning(UserWarning):
    """A refclip_mm module is not mirrored under a name that mmdet / mmseg binds to another
    class; ``type='refclip_mm.<Name>'`` still reaches it."""


def _qualname(cls: Type) -> str:
    return f'{cls.__module__}.{cls.__qualname__}'


def mirror_clash_message(cls: Type, name: str, registry: Registry) -> str:
    """The message of the :class:`MirrorClashWarning` for ``cls`` as ``name`` in ``registry``."""
    existing = registry.module_dict[name]
    return (f'refclip_mm: {_qualname(cls)} is not registered as {name!r} in the '
            f'{registry.scope} {registry.name!r} registry, where that name is already bound to '
            f'{_qualname(existing)}, which keeps it: in a {registry.scope} config '
            f"type='{name}' builds {existing.__name__} from {existing.__module__}, and "
            f"type='{SCOPE}.{name}' still reaches refclip_mm's {cls.__name__}.")


def names_to_mirror(cls: Type, names: Sequence[str], registry: Registry) -> List[str]:
    """Which of ``names`` to register ``cls`` under in the mirror ``registry``.

    Checked before anything is registered. A free name is mirrored; a name already bound to
    ``cls`` needs nothing; a name bound to a different class is left to that class, with a
    :class:`MirrorClashWarning` (see the module docstring).
    """
    registry.import_from_location()  # mmdet/mmseg fill their registries lazily
    free = []
    for name in names:
        existing = registry.module_dict.get(name)
        if existing is None:
            free.append(name)
        elif existing is not cls:
            warnings.warn(mirror_clash_message(cls, name, registry), MirrorClashWarning,
                          stacklevel=2)
    return free


class MirroredRegistry(Registry):
    """A ``refclip_mm``-scoped registry that also registers into ``mirrors``.

    Built on mmengine's public registry API only: ``register_module`` is
    extended to check every name against this registry first (a clash raises
    before anything is registered anywhere) and against the mirrors
    (:func:`names_to_mirror`: a name a mirror binds to another class is not
    mirrored, with a :class:`MirrorClashWarning`), then to register the module
    here and, under the remaining names, in each mirror. With ``force=True`` it
    is registered everywhere, replacing what was there.

    Args:
        name: registry name (same as the mmengine root registry's).
        parent: the mmengine root registry this scope hangs under.
        mirrors: registries of other scopes (mmdet, mmseg) that receive a copy
            of every registration.
        locations: modules imported the first time the registry is searched.
    """

    def __init__(self, name: str, parent: Registry, mirrors: Sequence[Registry],
                 locations: Sequence[str]):
        super().__init__(name, parent=parent, scope=SCOPE, locations=list(locations))
        self.mirrors = list(mirrors)

    def register_module(self, name: Optional[Union[str, List[str]]] = None, force: bool = False,
                        module: Optional[Type] = None):
        """As ``Registry.register_module`` (decorator or call), here and in the mirrors."""

        def register(cls: Type) -> Type:
            names = name if isinstance(name, list) else [name or cls.__name__]
            targets = [(registry, names) for registry in [self] + self.mirrors]
            if not force:  # check first: a clash must not leave a half registration
                self.import_from_location()
                clash = [n for n in names if n in self.module_dict]
                if clash:
                    existing = self.module_dict[clash[0]]
                    raise KeyError(f'{clash[0]} is already registered in the {self.scope} '
                                   f'{self.name} registry (by {existing.__module__}); '
                                   'give the refclip_mm module another name')
                targets = [(self, names)] + [(mirror, names_to_mirror(cls, names, mirror))
                                             for mirror in self.mirrors]
            for registry, registry_names in targets:
                if registry_names:
                    Registry.register_module(registry, name=registry_names, force=force,
                                             module=cls)
            return cls

        if module is not None:
            return register(module)
        return register


def _scoped(attr: str, name: str, locations: Sequence[str]) -> MirroredRegistry:
    return MirroredRegistry(
        name,
        parent=getattr(mmengine_registry, attr),
        mirrors=[getattr(mmdet_registry, attr), getattr(mmseg_registry, attr)],
        locations=locations)


MODELS = _scoped('MODELS', 'model', ['refclip_mm.models'])
HOOKS = _scoped('HOOKS', 'hook', ['refclip_mm.hooks'])
DATASETS = _scoped('DATASETS', 'dataset', ['refclip_mm.datasets'])
TRANSFORMS = _scoped('TRANSFORMS', 'transform', ['refclip_mm.datasets'])
METRICS = _scoped('METRICS', 'metric', ['refclip_mm.evaluation'])
TASK_UTILS = _scoped('TASK_UTILS', 'task util', ['refclip_mm.models'])
VISUALIZERS = _scoped('VISUALIZERS', 'visualizer', ['refclip_mm.evaluation'])
OPTIM_WRAPPERS = _scoped('OPTIM_WRAPPERS', 'optim_wrapper', ['refclip_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _scoped('OPTIM_WRAPPER_CONSTRUCTORS', 'optimizer wrapper constructor',
                                     ['refclip_mm.engine'])

# The other mmengine root registries get a plain child in our scope (nothing of ours is
# registered there). With ``default_scope='refclip_mm'`` mmengine then finds a registry of our
# scope for every kind of object (runner, loops, optimizers, schedulers, log processor, ...) and
# resolves the name through the parent, instead of warning "Failed to search registry with
# scope 'refclip_mm'" and falling back.


def _plain(attr: str, name: str) -> Registry:
    return Registry(name, parent=getattr(mmengine_registry, attr), scope=SCOPE)


RUNNERS = _plain('RUNNERS', 'runner')
RUNNER_CONSTRUCTORS = _plain('RUNNER_CONSTRUCTORS', 'runner constructor')
LOOPS = _plain('LOOPS', 'loop')
STRATEGIES = _plain('STRATEGIES', 'strategy')
DATA_SAMPLERS = _plain('DATA_SAMPLERS', 'data sampler')
MODEL_WRAPPERS = _plain('MODEL_WRAPPERS', 'model_wrapper')
WEIGHT_INITIALIZERS = _plain('WEIGHT_INITIALIZERS', 'weight initializer')
OPTIMIZERS = _plain('OPTIMIZERS', 'optimizer')
PARAM_SCHEDULERS = _plain('PARAM_SCHEDULERS', 'parameter scheduler')
EVALUATOR = _plain('EVALUATOR', 'evaluator')
VISBACKENDS = _plain('VISBACKENDS', 'vis_backend')
LOG_PROCESSORS = _plain('LOG_PROCESSORS', 'log_processor')
INFERENCERS = _plain('INFERENCERS', 'inferencer')
FUNCTIONS = _plain('FUNCTIONS', 'function')
