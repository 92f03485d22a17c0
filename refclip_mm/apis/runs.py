"""Train and test any refclip_mm config with mmengine's Runner, as functions.

What ``tools/train.py`` / ``tools/test.py``, the demo and the ToyWorld pipeline call. Config
changes go by key and by meaning (a hook by its type, a schedule by its length), never by a
position in a list.
"""
import contextlib
import copy
import os
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional, Union

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner, find_latest_checkpoint

from ..utils.distributed import prepare_cpu_distributed
from ..utils.short_run import limit_train_iters

ConfigType = Union[str, Config]
WARMUP_SCHEDULERS = ('LinearLR', 'ConstantLR', 'LinearMomentum', 'ConstantMomentum')


def load_config(config: ConfigType, cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None, launcher: str = 'none') -> Config:
    """A config file (or a copy of a Config) with overrides merged by key and a work dir.

    ``work_dir`` defaults to the config's own, else ``./work_dirs/<config name>``.
    """
    if isinstance(config, Config):
        cfg, name = copy.deepcopy(config), osp.splitext(osp.basename(config.filename or 'cfg'))[0]
    else:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config!r}')
        cfg, name = Config.fromfile(config), osp.splitext(osp.basename(config))[0]
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    fit_workers_to_cpus(cfg, keep=set(cfg_options or ()))
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', name)
    return cfg


def fit_workers_to_cpus(cfg: Config, keep: Iterable[str] = ()) -> List[str]:
    """Lower each dataloader's ``num_workers`` to the CPUs this process may use, where the
    config asks for more (the full-size configs' 2-8 workers per GPU on a small machine, which
    PyTorch warns about and which only add processes); a key named in ``keep`` (set on the
    command line) is left as given. Prints and returns one line per change."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    changes = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key) or {}
        workers = loader.get('num_workers')
        if not cpus or workers is None or workers <= cpus or f'{key}.num_workers' in keep:
            continue
        loader['num_workers'] = cpus
        changes.append(f'{key}.num_workers: {workers} -> {cpus}, the CPUs here (set it with '
                       f'--cfg-options {key}.num_workers=N to keep another value)')
    for line in changes:
        print(f'[refclip_mm] {line}')
    return changes


def use_amp(cfg: Config, cuda: Optional[bool] = None) -> Config:
    """Mixed precision: mmengine's ``AmpOptimWrapper`` (fp16, dynamic loss scale) where CUDA is
    available; without CUDA, where that wrapper does not run, the package's
    ``AutocastOptimWrapper`` (bf16 autocast where the CPU computes bf16 natively, fp32
    otherwise). A config that already asks for either is left as it is."""
    import torch
    if cuda is None:
        cuda = torch.cuda.is_available()
    kind = str(cfg.optim_wrapper.get('type', 'OptimWrapper')).split('.')[-1]
    if kind in ('AmpOptimWrapper', 'AutocastOptimWrapper'):
        return cfg
    if cuda:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        cfg.optim_wrapper.type = 'refclip_mm.AutocastOptimWrapper'
    return cfg


def enable_auto_scale_lr(cfg: Config) -> Config:
    """Turn on mmengine's linear learning-rate scaling, applied when the Runner builds the
    optimizer (lr x total batch / ``auto_scale_lr.base_batch_size``).

    Raises:
        ValueError: the config has no ``auto_scale_lr.base_batch_size``.
    """
    scale = cfg.get('auto_scale_lr')
    if not scale or 'base_batch_size' not in scale:
        raise ValueError('--auto-scale-lr needs auto_scale_lr = dict(base_batch_size=N) in the '
                         'config (N: the total batch its learning rate is set for)')
    scale.enable = True
    return cfg


def configure_training(cfg: Config, resume: Optional[str] = None, amp: bool = False,
                       max_iters: Optional[int] = None, auto_scale_lr: bool = False) -> Config:
    """Resume (``'auto'``: the work dir's last checkpoint, or a file), mixed precision
    (:func:`use_amp`), learning-rate scaling by the batch (:func:`enable_auto_scale_lr`), a
    short run."""
    if max_iters is not None:
        limit_train_iters(cfg, max_iters)
    if amp:
        use_amp(cfg)
    if auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if resume is not None:
        if not any(h.get('type') in ('StrictResumeHook', 'refclip_mm.StrictResumeHook')
                   for h in cfg.get('custom_hooks', [])):
            cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
                dict(type='refclip_mm.StrictResumeHook')]
        cfg.resume = True
        if resume == 'auto':
            cfg.load_from = None
        else:
            if not osp.isfile(resume):
                raise FileNotFoundError(f'--resume checkpoint not found: {resume!r}')
            cfg.load_from = resume
    return cfg


def set_hook_options(cfg: Config, hook_type: str, **options) -> Config:
    """Set options of the custom hook(s) of ``hook_type`` (with or without a scope prefix)."""
    hooks = [h for h in cfg.get('custom_hooks', [])
             if str(h.get('type', '')).split('.')[-1] == hook_type]
    if not hooks:
        names = [h.get('type') for h in cfg.get('custom_hooks', [])]
        raise KeyError(f'the config has no {hook_type} in custom_hooks (it has {names})')
    for hook in hooks:
        hook.update(options)
    return cfg


def fit_schedule(cfg: Config, max_iters: int, warmup: Optional[int] = None) -> Config:
    """Give an iteration-based config ``max_iters`` steps, its schedule stretched to fit.

    Warm-up schedulers (``LinearLR``, ``ConstantLR``) end at ``warmup`` (default: their end
    scaled); the others start where the warm-up ends (if they did not start at 0), end at
    ``max_iters``, with ``T_max`` = their length and ``milestones`` scaled. Validation and
    the checkpoint happen at the end.
    """
    loop = cfg.train_cfg
    if 'max_iters' not in loop:
        raise ValueError('fit_schedule needs an iteration-based train_cfg (max_iters); '
                         'use limit_train_iters for epoch-based configs')
    old = int(loop.max_iters)
    scale = max_iters / old

    def scaled(value):
        return int(value * scale + 1e-9)

    loop.max_iters = max_iters
    if 'val_interval' in loop:
        loop.val_interval = max_iters
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None:
        checkpoint.interval = max_iters
    schedulers = cfg.get('param_scheduler') or []
    for sched in ([schedulers] if isinstance(schedulers, dict) else schedulers):
        if sched.get('by_epoch', True):
            continue
        if str(sched.type).split('.')[-1] in WARMUP_SCHEDULERS:
            sched.end = warmup if warmup is not None else max(1, scaled(sched.get('end', old)))
            continue
        begin = sched.get('begin', 0)
        sched.begin = (warmup if warmup is not None else scaled(begin)) if begin else 0
        sched.end = max_iters
        if 'T_max' in sched:
            sched.T_max = max_iters - sched.begin
        if 'milestones' in sched:
            sched.milestones = [scaled(m) for m in sched.milestones]
    return cfg


@contextlib.contextmanager
def output_to(log_file: Optional[str]):
    """Send stdout and stderr (mmengine's console log among them) to ``log_file``."""
    if log_file is None:
        yield
        return
    os.makedirs(osp.dirname(osp.abspath(log_file)), exist_ok=True)
    with open(log_file, 'a') as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        yield


class _ProgressHook(Hook):
    """Calls ``fn(iteration, max_iters)`` after every training iteration."""
    priority = 'VERY_LOW'

    def __init__(self, fn: Callable[[int, int], None]):
        self.fn = fn

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.fn(runner.iter + 1, runner.max_iters)


def train(cfg: Config, log_file: Optional[str] = None,
          progress: Optional[Callable[[int, int], None]] = None) -> Runner:
    """Build the Runner of ``cfg`` and train; returns the runner.

    ``log_file``: the console output goes there instead (the run's own log file in its
    work dir is written either way). ``progress(iteration, max_iters)`` is called after
    every iteration.
    """
    prepare_cpu_distributed(cfg)
    with output_to(log_file):
        runner = Runner.from_cfg(cfg)
        if progress is not None:
            runner.register_hook(_ProgressHook(progress))
        runner.train()
    return runner


def test(cfg: Config, checkpoint: str, out: Optional[str] = None,
         log_file: Optional[str] = None) -> Dict[str, float]:
    """Evaluate ``checkpoint`` with the config's test loop; returns the metrics.

    ``out``: also dump the raw predictions to this ``.pkl`` file.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint!r}')
    if out is not None and not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must end with .pkl, got {out!r}')
    cfg.load_from = checkpoint
    prepare_cpu_distributed(cfg)
    with output_to(log_file):
        runner = Runner.from_cfg(cfg)
        if out is not None:
            from mmengine.evaluator import DumpResults
            runner.test_evaluator.metrics.append(DumpResults(out_file_path=out))
        return runner.test()


def train_then_test(cfg: Config, log_file: Optional[str] = None,
                    progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, float]:
    """:func:`train` without its validation loop, then :func:`test` of the checkpoint the run
    saved last; returns the test metrics (the training run's own validation would evaluate
    the same checkpoint again when the val and test sets are one)."""
    training = load_config(cfg)
    training.val_dataloader = training.val_evaluator = training.val_cfg = None
    train(training, log_file, progress)
    return test(load_config(cfg), last_checkpoint(cfg.work_dir), log_file=log_file)


def scene_detector_options(tower: str, class_embeddings: str, data_root: str) -> Dict[str, str]:
    """``cfg_options`` that point an F-ViT config at a CLIP / tower file, its class embeddings
    and a synthetic-scenes data root (``datasets.synthetic.write_dataset``): the three loaders'
    root and the evaluators' ``annotations/instances_val.json``."""
    root = data_root.rstrip('/') + '/'
    options = {'model.backbone.pretrained': tower,
               'model.roi_head.bbox_head.class_embeddings': class_embeddings,
               'train_dataloader.dataset.data_root': root}
    for split in ('val', 'test'):
        options[f'{split}_dataloader.dataset.data_root'] = root
        options[f'{split}_evaluator.ann_file'] = f'{root}annotations/instances_val.json'
    return options


def ov_ap50(metrics: Dict[str, float]) -> Dict[str, float]:
    """``{'base_ap50', 'novel_ap50'}`` (fractions, as the metric reports them) from the metrics
    of a run evaluated with mmdet's ``OVCocoMetric`` (keys such as ``coco/base_ap50``)."""
    found = {k.split('/')[-1]: float(v) for k, v in metrics.items()
             if k.endswith(('base_ap50', 'novel_ap50'))}
    if set(found) != {'base_ap50', 'novel_ap50'}:
        raise RuntimeError(f'OVCocoMetric returned {sorted(metrics)}; expected base/novel AP50')
    return found


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint mmengine's ``last_checkpoint`` file in ``work_dir`` names."""
    path = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) else None
    if not path:
        raise FileNotFoundError(f'no last_checkpoint in {work_dir!r}: did the run save one?')
    return path
