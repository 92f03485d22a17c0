"""Short runs of any training config: stop after N iterations, whatever its loop."""
from mmengine.config import Config


def limit_train_iters(cfg: Config, max_iters: int) -> Config:
    """Make ``cfg`` train for exactly ``max_iters`` iterations (a smoke run), in place.

    Epoch-based and iteration-based configs alike get an ``IterBasedTrainLoop``
    of ``max_iters`` iterations; validation (if the config has it) and the
    checkpoint run once, at the end. Learning-rate schedules keep their
    definition: epoch-based ones stay at their first epoch's value. The
    logger prints at least at the last iteration.

    Returns:
        ``cfg``.
    """
    if int(max_iters) < 1:
        raise ValueError(f'max_iters must be >= 1, got {max_iters!r}')
    max_iters = int(max_iters)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
    hooks = cfg.get('default_hooks', None)
    if hooks is not None:
        if hooks.get('checkpoint') is not None:
            hooks.checkpoint.update(by_epoch=False, interval=max_iters)
        if hooks.get('logger') is not None:
            hooks.logger.interval = min(int(hooks.logger.get('interval', 10)), max_iters)
    if cfg.get('log_processor') is not None:
        cfg.log_processor.by_epoch = False
    return cfg
