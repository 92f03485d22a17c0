"""Which stage-0 recipe teaches the ToyWorld CLIP shapes? (docs/toyworld.md, "Stage 0").

Each variant trains the toy CLIP (ViT 6 x 192, patch 8, 64 px; text 3 x 128) from scratch with
CLIP's symmetric InfoNCE on freshly drawn scene-caption pairs and reports the zero-shot accuracy
on 500 single-object scenes (class / colour / shape) every ``--eval-every`` steps. Variants:
batch size, random-resized crops captioned with what they show, "shape twins" (half the batch
are copies of the other half with one object's shape changed), learning rate, objects per scene.

It needs only torch, numpy, opencv and open_clip (it reads the world generator,
refclip_mm/datasets/synthetic.py, by path and repeats the few lines of the contrastive loss),
so it runs on an accelerator machine where mmcv is not built; bf16 autocast, AdamW 1e-3,
warm-up 100 then cosine, as configs/toyworld/stage0_*.py. All variants train at once, one
process each (``--set 1`` / ``--set 2``: the two sweeps recorded in
docs/results/toyworld_stage0_recipes.json).

    python benchmarks/toyworld_stage0_recipes.py --out OUT_DIR [--set 1|2] [--device cuda]
"""
import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location(
    'synthetic', os.path.join(REPO, 'refclip_mm', 'datasets', 'synthetic.py'))
syn = importlib.util.module_from_spec(spec)
sys.modules['synthetic'] = syn
spec.loader.exec_module(syn)

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32) * 255
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32) * 255
NC = len(syn.COLOURS)


def view(scene, box, size):
    """The scene, or its crop resized to ``size`` with the caption of what the crop shows."""
    if box is None:
        return scene.image, scene.caption
    return syn.crop_scene(scene, box, size, min_visible=0.5)


def make_batch(args):
    seed, step, batch, v = args
    rng = np.random.default_rng([seed, step])
    cfg = syn.SceneConfig(image_size=64, objects_per_image=tuple(v['objects']),
                          object_scale=(0.2, 0.55))
    images, captions = [], []
    twins = batch // 2 if v.get('twins') else 0
    for k in range(batch - twins):
        layout = syn.sample_layout(rng, cfg)
        box = (syn.random_crop_box(rng, 64, tuple(v['crop']), (0.75, 4 / 3))
               if v.get('crop') else None)
        scene = syn.paint_scene(layout)
        im, cap = view(scene, box, 64)
        images.append(im)
        captions.append(cap)
        if k < twins:
            other = syn.SceneLayout(layout.stuff_id, layout.background,
                                    [dict(o) for o in layout.objects])
            j = int(rng.integers(len(other.objects)))
            old = other.objects[j]['category']
            shape = old // NC
            new_shape = int(rng.choice([s for s in range(len(syn.SHAPES)) if s != shape]))
            other.objects[j]['category'] = new_shape * NC + old % NC
            im2, cap2 = view(syn.paint_scene(other), box, 64)
            images.append(im2)
            captions.append(cap2)
    x = (np.stack(images).astype(np.float32) - MEAN) / STD
    return x.transpose(0, 3, 1, 2), captions


def single_object(num, seed):
    rng = np.random.default_rng(seed)
    cfg = syn.SceneConfig(image_size=64, objects_per_image=(1, 1), object_scale=(0.3, 0.55))
    ims, labels = [], []
    while len(ims) < num:
        s = syn.render_scene(rng, cfg)
        if len(s.instances) == 1:
            ims.append(s.image)
            labels.append(s.instances[0]['category'])
    x = (np.stack(ims).astype(np.float32) - MEAN) / STD
    return x.transpose(0, 3, 1, 2), np.array(labels)


def train_variant(name, v, out_dir, device, iters, eval_every):
    import open_clip
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    model = open_clip.CLIP(embed_dim=128, quick_gelu=False,
                           vision_cfg=dict(image_size=64, layers=6, width=192, head_width=64,
                                           patch_size=v.get('patch', 8)),
                           text_cfg=dict(context_length=32, vocab_size=49408, width=128,
                                         heads=2, layers=3)).to(device)
    from open_clip.tokenizer import SimpleTokenizer
    tok = SimpleTokenizer(context_length=32)
    lr = v.get('lr', 1e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1, betas=(0.9, 0.98))
    warm = 100

    def lr_at(it):
        if it < warm:
            return lr * (0.01 + 0.99 * it / warm)
        t = (it - warm) / max(1, iters - warm)
        return 1e-5 + (lr - 1e-5) * 0.5 * (1 + np.cos(np.pi * t))

    ev_x, ev_y = single_object(500, 123)
    ev_x = torch.from_numpy(ev_x).to(device)
    prompts = [f'a photo of a {{}} on {s}' for s in syn.STUFF_CLASSES]
    batch = v.get('batch', 64)
    pool = mp.get_context('fork').Pool(v.get('workers', 2))
    jobs = pool.imap(make_batch, ((1000, it, batch, v) for it in range(iters)), chunksize=4)
    log = []
    start = time.time()
    for it in range(iters):
        x, caps = next(jobs)
        for g in opt.param_groups:
            g['lr'] = lr_at(it)
        x = torch.from_numpy(x).to(device)
        t = tok(caps).to(device)
        with torch.autocast(device.split(':')[0], dtype=torch.bfloat16):
            img = model.encode_image(x)
            txt = model.encode_text(t)
        img, txt = F.normalize(img.float(), dim=-1), F.normalize(txt.float(), dim=-1)
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))
        logits = model.logit_scale.exp() * img @ txt.t()
        target = torch.arange(len(caps), device=device)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (it + 1) % eval_every == 0 or it + 1 == iters:
            model.eval()
            with torch.no_grad(), torch.autocast(device.split(':')[0], dtype=torch.bfloat16):
                emb = []
                for c in syn.THING_CLASSES:
                    e = model.encode_text(tok([p.format(c) for p in prompts]).to(device)).float()
                    emb.append(F.normalize(e, dim=-1).mean(0))
                emb = F.normalize(torch.stack(emb), dim=-1)
                f = F.normalize(model.encode_image(ev_x).float(), dim=-1)
                pred = (f @ emb.t()).argmax(1).cpu().numpy()
            model.train()
            rec = dict(iter=it + 1, loss=float(loss.detach()), seconds=time.time() - start,
                       top1=float((pred == ev_y).mean() * 100),
                       colour=float((pred % NC == ev_y % NC).mean() * 100),
                       shape=float((pred // NC == ev_y // NC).mean() * 100))
            log.append(rec)
            print(name, json.dumps(rec), flush=True)
            with open(os.path.join(out_dir, f'{name}.json'), 'w') as fh:
                json.dump(dict(variant=v, log=log), fh)
    pool.terminate()


SET2 = {
    'H_crop_b128_2400': dict(objects=(1, 3), crop=(0.25, 1.0), batch=128, iters=2400),
    'I_crop_twins_b128_2400': dict(objects=(1, 3), crop=(0.25, 1.0), twins=True, batch=128,
                                   iters=2400),
    'J_crop_twins_b256_1200': dict(objects=(1, 3), crop=(0.25, 1.0), twins=True, batch=256,
                                   iters=1200),
    'K_crop_b256_1200': dict(objects=(1, 3), crop=(0.25, 1.0), batch=256, iters=1200),
    'L_twins_b128_2400': dict(objects=(1, 3), twins=True, batch=128, iters=2400),
    'M_crop_twins_b128_1600': dict(objects=(1, 3), crop=(0.25, 1.0), twins=True, batch=128,
                                   iters=1600),
}
SET1 = {
    'A_base': dict(objects=(1, 3)),
    'B_crop': dict(objects=(1, 3), crop=(0.25, 1.0)),
    'C_crop_twins': dict(objects=(1, 3), crop=(0.25, 1.0), twins=True),
    'D_twins': dict(objects=(1, 3), twins=True),
    'E_crop_twins_lr2e-3': dict(objects=(1, 3), crop=(0.25, 1.0), twins=True, lr=2e-3),
    'F_crop_obj12': dict(objects=(1, 2), crop=(0.25, 1.0)),
    'G_crop_twins_b128': dict(objects=(1, 3), crop=(0.25, 1.0), twins=True, batch=128),
}

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--out', required=True)
    p.add_argument('--iters', type=int, default=3000)
    p.add_argument('--eval-every', type=int, default=250)
    p.add_argument('--variant', default=None, help='run one variant in this process')
    p.add_argument('--set', type=int, default=2, choices=(1, 2))
    p.add_argument('--device', default='cuda')
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    variants = SET1 if a.set == 1 else SET2
    if a.variant:
        v = {**SET1, **SET2}[a.variant]
        train_variant(a.variant, v, a.out, a.device, v.get('iters', a.iters), a.eval_every)
    else:
        spawn = mp.get_context('spawn')
        procs = [spawn.Process(target=train_variant,
                               args=(n, v, a.out, a.device, v.get('iters', a.iters), a.eval_every))
                 for n, v in variants.items()]
        for pr in procs:
            pr.start()
        for pr in procs:
            pr.join()
