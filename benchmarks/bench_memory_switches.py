"""Peak memory of one training step with each memory switch: stage 2 (R-SC-RLA) and the F-ViT.

What trades memory in a run of the shipped configs (docs/training.md, "Fitting smaller GPUs"):
the per-device batch (with ``--auto-scale-lr``), gradient checkpointing
(``grad_checkpointing=True`` on the stage-2 model or a ``CLIPViT`` backbone), mixed precision
(``--amp``) and frozen tower blocks (``frozen_stages`` of ``CLIPViT``). Each setting here is one
training step of a shipped config at a reduced size, every switch alone, beside the setting
without it (the baseline), each in a fresh process:

* ``stage2``: ``configs/rla/clipself-patches-rsc_vit-b16-openai_8xb2-6e_coco-1024.py`` (R-SC-RLA,
  ViT-B/16: the student, the frozen initial tower shared with the SCD teacher, a Refiner file),
  images of ``--stage2-size`` px (default 448 instead of 1024) with 20 grid boxes each (the
  pipeline's ``max_boxes``). Baseline: no gradient checkpointing, fp32, ``--batch`` images.
  The shipped config has gradient checkpointing on (the ``grad-ckpt`` row).
* ``fvit``: ``configs/fvit/fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py`` (ViT-B/16
  frozen, pyramid, FPN, RPN, OV RoI head, 65 OV-COCO class embeddings), images of
  ``--fvit-size`` px (default 320 instead of 640) with 8 ground-truth boxes each. Baseline: the
  shipped config (tower frozen, ``frozen_stages=12``), fp32, ``--batch`` images. The
  ``frozen_stages=-1`` rows train the tower too: what freezing it saves.

The model, its optimizer wrapper and its hook are built from the config (random weights,
``pretrained=None``; SyncBN as BN in one process; generated images and boxes), the step is
mmengine's ``model.train_step(data, optim_wrapper)``, as the Runner calls it. The optimizer
state (AdamW's two moments) is allocated before the measured step, as it is at every step after
the first. ``amp``: on the CPU the package's ``AutocastOptimWrapper(dtype='bfloat16')`` (what
``tools/train.py --amp`` selects on a machine without CUDA, here forced to bf16; not run for the
F-ViT, whose RPN calls mmcv's CPU NMS, which takes no bf16 input); on CUDA mmengine's
``AmpOptimWrapper`` (fp16, dynamic loss scale: what ``--amp`` selects there).

What is measured:

* ``--device cpu``: the process's peak resident memory (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs`` just before the step) minus its resident memory after the imports
  and the generated data, i.e. everything the run added: weights (trained and frozen),
  gradients, optimizer state, activations, and what the C allocator keeps resident. glibc is
  told to map every block of 64 KiB or more separately (``MALLOC_MMAP_THRESHOLD_``), so freed
  tensors leave the resident set at once rather than being kept for reuse. ``held`` is the same
  difference just before the step (weights and optimizer state).
* ``--device cuda``: ``torch.cuda.max_memory_allocated()`` during the step (reset just before
  it), i.e. all tensors alive on the GPU, weights and optimizer state included; not the CUDA
  context nor the caching allocator's reserve (``max_memory_reserved`` is printed beside it).

The ratio to the baseline is of two numbers from the same run of this script. The step time
is printed for orientation only (one step, no warm-up, on whatever load the machine has).

    python benchmarks/bench_memory_switches.py [--device cpu|cuda] [--parts stage2 fvit]
        [--stage2-size 448] [--fvit-size 320] [--batch 2] [--settings NAME ...] [--json FILE]
"""
import argparse
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

from process_memory import reset_peak_rss, status_kib

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STAGE2_CONFIG = osp.join(REPO, 'configs', 'rla', 'clipself-patches-rsc_vit-b16-openai_8xb2-6e_coco-1024.py')
FVIT_CONFIG = osp.join(REPO, 'configs', 'fvit', 'fvit-faster-rcnn_vit-b16-openai_8xb8-3e_ov-coco-640.py')
BOXES = dict(stage2=20, fvit=8)  # per image: RandomGridBoxes' max_boxes; ground-truth boxes
MMAP_THRESHOLD = 65536

# setting -> the switches it turns on, per part; the first is the baseline
SETTINGS = {
    'stage2': {
        'baseline': dict(),
        'grad-ckpt': dict(grad_checkpointing=True),
        'batch-1': dict(batch=1),
        'amp': dict(amp=True),
        'grad-ckpt+batch-1+amp': dict(grad_checkpointing=True, batch=1, amp=True),
    },
    'fvit': {
        'baseline': dict(),
        'batch-1': dict(batch=1),
        'amp': dict(amp=True),
        'grad-ckpt': dict(grad_checkpointing=True),
        'frozen_stages=-1': dict(frozen_stages=-1),
        'frozen_stages=-1+grad-ckpt': dict(frozen_stages=-1, grad_checkpointing=True),
    },
}
SHIPPED = dict(stage2='grad-ckpt', fvit='baseline')  # the row with the shipped config's switches
DESCRIBE = {
    'baseline': 'no switch',
    'grad-ckpt': 'grad_checkpointing=True',
    'batch-1': 'batch 1 per device',
    'amp': 'mixed precision (--amp)',
    'grad-ckpt+batch-1+amp': 'all three',
    'frozen_stages=-1': 'tower trained too',
    'frozen_stages=-1+grad-ckpt': 'tower trained, grad_checkpointing',
}


# ---------------------------------------------------------------- measuring (child process)
def replace_syncbn(cfg):
    """SyncBN -> BN everywhere in a config (one process, no process group)."""
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg['type'] = 'BN'
        for value in cfg.values():
            replace_syncbn(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            replace_syncbn(value)


def optim_wrapper_cfg(cfg, amp, device):
    wrapper = dict(cfg.optim_wrapper)
    if amp:
        if device == 'cuda':
            wrapper.update(type='AmpOptimWrapper', loss_scale='dynamic')
        else:
            wrapper.update(type='refclip_mm.AutocastOptimWrapper', dtype='bfloat16')
    return wrapper


def stage2_parts(switches, size, batch, device, files):
    """Model, data and optimizer-wrapper config of the R-SC-RLA step."""
    import torch
    from mmengine.config import Config
    from mmengine.structures import BaseDataElement

    from refclip_mm.hooks import SCDDistillHook
    from refclip_mm.registry import MODELS

    cfg = Config.fromfile(STAGE2_CONFIG)
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g)
              for _ in range(batch)]
    cols, rows = 5, BOXES['stage2'] // 5
    step_x, step_y = size / cols, size / rows
    grid = torch.tensor([[c * step_x, r * step_y, (c + 1) * step_x, (r + 1) * step_y]
                         for r in range(rows) for c in range(cols)])
    samples = []
    for i in range(batch):
        sample = BaseDataElement(metainfo=dict(img_path=f'{i}.jpg'))
        sample.boxes = grid.clone()
        samples.append(sample)

    def build():
        model_cfg = dict(cfg.model, pretrained=None,
                         grad_checkpointing=switches.get('grad_checkpointing', False))
        model = MODELS.build(model_cfg).to(device)
        model.train()
        (hook_cfg, ) = [h for h in cfg.custom_hooks if h['type'] == 'SCDDistillHook']
        hook_cfg = {k: v for k, v in hook_cfg.items() if k != 'type'}
        hook_cfg['refiner_file'] = files['refiner']
        term = SCDDistillHook(**hook_cfg).build_term(model)
        term.agreement_due = lambda: False  # as at the iterations that do not log it
        model.add_loss_term('scd', term.rla_term)
        return model

    return build, dict(inputs=images, data_samples=samples), cfg


def fvit_parts(switches, size, batch, device, files):
    """Model, data and optimizer-wrapper config of the F-ViT step."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.structures import InstanceData

    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(FVIT_CONFIG)
    head = cfg.model.roi_head.bbox_head
    base = torch.tensor([i for i, name in enumerate(head.class_names)
                         if name not in head.novel_classes])  # novel classes are not trained on
    g = torch.Generator().manual_seed(0)
    images, samples = [], []
    for _ in range(batch):
        images.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g))
        xy = torch.rand(BOXES['fvit'], 2, generator=g) * size * 0.6
        wh = 16 + torch.rand(BOXES['fvit'], 2, generator=g) * size * 0.35
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                             scale_factor=(1.0, 1.0), img_id=0))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, (xy + wh).clamp(max=size)], 1),
            labels=base[torch.randint(0, len(base), (BOXES['fvit'], ), generator=g)])
        samples.append(sample)

    def build():
        model_cfg = copy.deepcopy(cfg.model)
        replace_syncbn(model_cfg)
        model_cfg['data_preprocessor']['fixed_size'] = (size, size)
        model_cfg['backbone'].update(pretrained=None,
                                     frozen_stages=switches.get('frozen_stages', 12),
                                     grad_checkpointing=switches.get('grad_checkpointing', False))
        model_cfg['roi_head']['bbox_head']['class_embeddings'] = files['embeddings']
        model = MODELS.build(model_cfg).to(device)
        model.init_weights()
        model.train()
        return model

    return build, dict(inputs=images, data_samples=samples), cfg


def allocate_optimizer_state(wrapper):
    """Create the optimizer's per-parameter state (AdamW's moments) without changing a weight:
    one step with zero gradients at learning rate 0, then the gradients dropped."""
    import torch
    optimizer = wrapper.optimizer
    lrs = [group['lr'] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group['lr'] = 0.0
        for p in group['params']:
            if p.requires_grad:
                p.grad = torch.zeros_like(p)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    for group, lr in zip(optimizer.param_groups, lrs):
        group['lr'] = lr


def measure(part, setting, device, size, batch, files):
    """One training step of ``part`` with ``setting``'s switches; a dict of the numbers."""
    import open_clip  # noqa: F401  (imported before the start is read, as everything below)
    import torch
    from mmengine.optim import build_optim_wrapper

    import refclip_mm  # noqa: F401  (registers the package's modules)

    switches = SETTINGS[part][setting]
    batch = switches.get('batch', batch)
    torch.manual_seed(0)
    build, data, cfg = (stage2_parts if part == 'stage2' else fvit_parts)(
        switches, size, batch, device, files)
    if device == 'cuda':
        torch.cuda.init()
        torch.cuda.reset_peak_memory_stats()
        start_rss = torch.cuda.memory_allocated()
    else:
        start_rss = status_kib('VmRSS') * 1024
    model = build()
    wrapper = build_optim_wrapper(model, optim_wrapper_cfg(cfg, switches.get('amp', False), device))
    allocate_optimizer_state(wrapper)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        held = torch.cuda.memory_allocated() - start_rss
    else:
        reset_peak_rss()
        held = status_kib('VmRSS') * 1024 - start_rss
    start = time.perf_counter()
    log_vars = model.train_step(data, wrapper)
    if device == 'cuda':
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if device == 'cuda':
        peak = torch.cuda.max_memory_allocated() - start_rss
        reserved = torch.cuda.max_memory_reserved()
    else:
        peak = status_kib('VmHWM') * 1024 - start_rss
        reserved = None
    losses = {k: float(v) for k, v in log_vars.items() if k.startswith('loss')}
    if not all(v == v and abs(v) != float('inf') for v in losses.values()):
        raise RuntimeError(f'{part} {setting}: a loss is not finite: {losses}')
    return dict(part=part, setting=setting, device=device, size=size, batch=batch,
                peak=peak, held=held, reserved=reserved, seconds=seconds,
                trainable=trainable, threads=torch.get_num_threads())


# ---------------------------------------------------------------- running (parent process)
def write_files(tmp):
    """The Refiner file of the R-SC-RLA config and random OV-COCO class embeddings."""
    import torch
    from mmengine.config import Config

    from refclip_mm.clip import ClassEmbeddings, save_class_embeddings
    from refclip_mm.models.backbones import Refiner
    from refclip_mm.models.refiner_file import save_refiner

    clip_model = Config.fromfile(STAGE2_CONFIG).model.clip_model
    torch.manual_seed(1)
    refiner = Refiner(512)  # the default stage-1 Refiner on ViT-B/16's 512-d projected tokens
    files = dict(refiner=osp.join(tmp, 'refiner.pth'), embeddings=osp.join(tmp, 'coco.pth'))
    save_refiner(refiner, files['refiner'], 'projected', clip_model,
                 source='bench_memory_switches.py')
    names = list(Config.fromfile(FVIT_CONFIG).model.roi_head.bbox_head.class_names)
    emb = torch.nn.functional.normalize(torch.randn(len(names) + 1, 512), dim=-1)
    save_class_embeddings(files['embeddings'],
                          ClassEmbeddings(names, emb[:-1], emb[-1], ['a photo of a {}.'], 'random'))
    return files


def run_child(part, setting, args, files):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD))
    size = args.stage2_size if part == 'stage2' else args.fvit_size
    cmd = [sys.executable, osp.abspath(__file__), '--child', part, setting, '--device', args.device,
           '--size', str(size), '--batch', str(args.batch), '--files', json.dumps(files)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('RESULT ')]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise RuntimeError(f'{part} {setting} failed (exit {proc.returncode})')
    return json.loads(lines[-1][len('RESULT '):])


def mib(value):
    return f'{value / 2 ** 20:,.0f}'


def table(part, results, device):
    base = results[0]
    what = 'peak above start (MiB)' if device == 'cpu' else 'max_memory_allocated (MiB)'
    size = base['size']
    print(f"\n{part}: {size} px, {device}; {what}; ratio = peak / {base['setting']} peak")
    print(f"| setting | batch | peak MiB | held before the step MiB | / {base['setting']} | "
          'trainable params | step s |')
    print('|---|---|---|---|---|---|---|')
    for r in results:
        mark = ' (shipped config)' if r['setting'] == SHIPPED[part] else ''
        print(f"| {r['setting']}: {DESCRIBE[r['setting']]}{mark} | {r['batch']} | {mib(r['peak'])} | "
              f"{mib(r['held'])} | {r['peak'] / base['peak']:.2f} | {r['trainable'] / 1e6:.1f} M | "
              f"{r['seconds']:.1f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--parts', nargs='+', default=['stage2', 'fvit'], choices=sorted(SETTINGS))
    parser.add_argument('--stage2-size', type=int, default=448)
    parser.add_argument('--fvit-size', type=int, default=320)
    parser.add_argument('--batch', type=int, default=2, help='images per step (baseline)')
    parser.add_argument('--settings', nargs='+',
                        help='only these settings (ratios are to the first one run)')
    parser.add_argument('--json', help='also write the results to this file')
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    parser.add_argument('--size', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--files', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    if args.child:
        result = measure(*args.child, args.device, args.size, args.batch, json.loads(args.files))
        print('RESULT ' + json.dumps(result), flush=True)
        return result
    import torch
    if args.device == 'cuda':
        name = torch.cuda.get_device_name()
    else:
        name = f'CPU, {os.cpu_count()} cores'
    print(f'torch {torch.__version__}, {name}, load average before: '
          + ' '.join(f'{x:.2f}' for x in os.getloadavg()), flush=True)
    everything = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(tmp)
        for part in args.parts:
            names = [s for s in SETTINGS[part] if not args.settings or s in args.settings]
            if not names:
                continue
            results = []
            for setting in names:
                if part == 'fvit' and args.device == 'cpu' and SETTINGS[part][setting].get('amp'):
                    print(f'  {part} {setting}: not run on the CPU (mmcv\'s CPU NMS in the RPN '
                          'takes no bf16 input)', flush=True)
                    continue
                results.append(run_child(part, setting, args, files))
                r = results[-1]
                print(f'  {part} {setting}: peak {mib(r["peak"])} MiB, held {mib(r["held"])} MiB, '
                      f'step {r["seconds"]:.1f} s', flush=True)
            table(part, results, args.device)
            everything[part] = results
    print('\nload average after: ' + ' '.join(f'{x:.2f}' for x in os.getloadavg()))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(everything, f, indent=1)
    return everything


if __name__ == '__main__':
    main()
