"""What a bf16 (or fp16) frozen path changes: SCD targets, value and gradient vs fp32.

Stage 2 (SCDDistillHook, region level): the same student dense map, the teacher's targets
computed in fp32 and in ``--precision``; printed are the relative error of the target tokens,
of the SCD value and of the gradient SCD hands to the student (w.r.t. its dense map, and with
``--param-grad`` w.r.t. its parameters), plus the gradient cosine. Two cases: SC-RLA with a
student moved away from the teacher (block weights + ``--student-noise`` x their std of
Gaussian noise; at the start both are equal and the fp32 gradient is zero) and R-SC-RLA (the
same student, the teacher followed by a Refiner whose output layer is not zero).

Stage 1 (RefinerTrainer): the loss terms and the Refiner's gradient with the frozen tower in
fp32 and in ``--precision``, same boxes.

Random weights (nothing is downloaded), so the figures describe rounding, not a trained CLIP.

    python benchmarks/bench_frozen_precision.py [--model ViT-B-16] [--size 1024] [--batch 2]
        [--boxes 16] [--stage1-size 448] [--precision bf16] [--param-grad] [--device cpu]
"""
import argparse
import os.path as osp
import sys
import tempfile

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from bench_rla_step import grid_boxes, write_refiner  # noqa: E402

from refclip_mm.hooks import SCDDistillHook  # noqa: E402
from refclip_mm.models.trainers import RefinerTrainer, RLABatch, RLATrainer  # noqa: E402


def rel(a, b):
    """||a - b|| / ||b||."""
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


def cos(a, b):
    return float(torch.nn.functional.cosine_similarity(a.double().flatten(), b.double().flatten(),
                                                       dim=0))


def perturb_blocks(tower, noise, seed=2):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in tower.blocks:
            for p in block.parameters():
                if p.numel() > 1:
                    p.add_(torch.randn(p.shape, generator=gen).to(p) * p.std() * noise)


def stage2(args, refiner_file):
    torch.manual_seed(0)
    model = RLATrainer(clip_model=args.model).to(args.device)
    perturb_blocks(model.student, args.student_noise)
    images = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    rois = torch.cat([torch.cat([torch.full((args.boxes, 1), float(i)),
                                 grid_boxes(args.size, args.boxes)], 1)
                      for i in range(args.batch)]).to(args.device)
    if args.param_grad:
        dense = model.student_dense(images)
    else:
        with torch.no_grad():
            dense = model.student_dense(images)
        dense.requires_grad_(True)
    batch = RLABatch(images, dense, rois, model.patch_size)
    params = [p for p in model.student.parameters() if p.requires_grad]
    print(f'--- stage 2, {args.model} {args.size} px, batch {args.batch} x {args.boxes} boxes, '
          f'region-level SCD, teacher {args.precision} vs fp32')
    hooks = {p: SCDDistillHook(refiner_file=refiner_file, precision=p) for p in ('fp32', args.precision)}
    results = {}
    for precision, hook in hooks.items():
        term = hook.build_term(model)
        # the teacher's map without and with the Refiner (projected token space), one tower forward
        raw = term.teacher.tokens(images, precision)
        refined = term.teacher.refine(raw, precision)
        for name, teacher in (('SC-RLA', raw), ('R-SC-RLA', refined)):
            student_tokens = term.tokens(dense, batch.rois, batch.patch_size)
            target = term.tokens(teacher, batch.rois, batch.patch_size)
            loss = term.loss(student_tokens, target)
            grad = torch.autograd.grad(loss, [dense] + (params if args.param_grad else []),
                                       retain_graph=True)
            results[name, precision] = dict(
                target=target, loss=loss.detach(), grad=grad, dense=teacher,
                agreement=term.agreement(student_tokens, target))
    for name in ('SC-RLA', 'R-SC-RLA'):
        ref, low = results[name, 'fp32'], results[name, args.precision]
        line = (f'  {name}: student-teacher agreement {float(ref["agreement"]):.4f}; target tokens '
                f'rel. error {rel(low["target"], ref["target"]):.2e}; SCD {float(ref["loss"]):.6f} '
                f'(fp32) vs {float(low["loss"]):.6f}: rel. diff {rel(low["loss"], ref["loss"]):.2e}'
                f'; dense-map gradient rel. error {rel(low["grad"][0], ref["grad"][0]):.2e}, '
                f'cosine {cos(low["grad"][0], ref["grad"][0]):.6f}')
        if args.param_grad:
            g_low = torch.cat([g.flatten() for g in low['grad'][1:]])
            g_ref = torch.cat([g.flatten() for g in ref['grad'][1:]])
            line += (f'; parameter gradient rel. error {rel(g_low, g_ref):.2e}, cosine '
                     f'{cos(g_low, g_ref):.6f}')
        if name == 'R-SC-RLA':
            line += (f'; refined vs raw teacher map cosine '
                     f'{cos(ref["dense"], results["SC-RLA", "fp32"]["dense"]):.4f}')
        print(line, flush=True)


def stage1(args):
    torch.manual_seed(0)
    model = RefinerTrainer(clip_model=args.model).to(args.device)
    torch.nn.init.normal_(model.refiner.out.weight, std=0.02)
    images = torch.randn(args.batch, 3, args.stage1_size, args.stage1_size, device=args.device)
    results = {}
    for precision in ('fp32', args.precision):
        model.tower_precision = precision
        model.zero_grad()
        torch.manual_seed(3)  # the same boxes
        losses = model.loss(images)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        grad = torch.cat([p.grad.flatten() for p in model.refiner.parameters()])
        values = {k: float(v.detach()) for k, v in losses.items()}
        results[precision] = dict(losses=values, grad=grad)
    ref, low = results['fp32'], results[args.precision]
    print(f'--- stage 1, {args.model} {args.stage1_size} px, batch {args.batch}, tower '
          f'{args.precision} vs fp32')
    terms = [k for k in ref['losses'] if k.startswith('loss')]
    a, b = ref['losses'], low['losses']
    print('  ' + ', '.join(f'{k} {a[k]:.6f} vs {b[k]:.6f} (rel. diff '
                           f'{abs(b[k] - a[k]) / abs(a[k]):.2e})' for k in terms))
    print(f'  Refiner gradient rel. error {rel(low["grad"], ref["grad"]):.2e}, cosine '
          f'{cos(low["grad"], ref["grad"]):.6f}', flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--boxes', type=int, default=16)
    parser.add_argument('--stage1-size', type=int, default=448, help='0 skips stage 1')
    parser.add_argument('--precision', default='bf16', choices=['bf16', 'fp16'])
    parser.add_argument('--student-noise', type=float, default=0.05)
    parser.add_argument('--param-grad', action='store_true')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        refiner_file = osp.join(tmp, 'refiner.pth')
        write_refiner(RLATrainer(clip_model=args.model).student.embed_dim, refiner_file, args.model)
        stage2(args, refiner_file)
    if args.stage1_size:
        stage1(args)


if __name__ == '__main__':
    main()
