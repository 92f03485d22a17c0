"""Peak memory of the Cat-Seg-style head (cost volume + aggregation + decoder) vs class count.

Every case runs in a fresh subprocess: build a ViT-B/16-sized ``CatSegOVHead`` (random weights,
D = 512, guidance width 768, embed 128, 2 layers, window 12), one warm-up forward at a 4 x 4
token grid, then record the resident set size, run one inference forward (no autograd) at
384 px (24 x 24 tokens), batch 1, and report ``ru_maxrss - RSS before`` as the peak. The
CLIP tower and the final resize to the image are not included.

    python benchmarks/bench_catseg_cost_volume.py [--size 384] [--chunk 64]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def worker(classes: int, chunk: int, size: int) -> dict:
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, REPO)
    from refclip_mm.clip import ClassEmbeddings, save_class_embeddings
    from refclip_mm.models.segmentors import CatSegOVHead
    torch.manual_seed(0)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'emb.pth')
        emb = F.normalize(torch.randn(classes, 512), dim=-1)
        save_class_embeddings(path, ClassEmbeddings([f'c{i}' for i in range(classes)], emb, emb[0],
                                                    ['{}'], 'random'))
        head = CatSegOVHead(text_dim=512, guidance_channels=(768, 768), class_embeddings=path,
                            class_chunk_size=chunk or None,
                            loss_decode=dict(type='CrossEntropyLoss')).eval()
    grid = size // 16

    def inputs(g):
        return (torch.randn(1, 768, g, g), torch.randn(1, 768, g, g), torch.randn(1, 512, g, g))

    with torch.no_grad():
        head(inputs(4))                  # warm-up: allocator and kernels
        x = inputs(grid)
        before = rss_mib()
        start = time.perf_counter()
        out = head(x)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    volume = classes * 128 * grid * grid * 4 / 2 ** 20
    return dict(classes=classes, chunk=chunk or 0, size=size, peak_mib=round(peak, 1),
                seconds=round(seconds, 2), cost_embedding_mib=round(volume, 1),
                logits_mib=round(out.numel() * 4 / 2 ** 20, 1))


def run_case(classes: int, chunk: int, size: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, '--worker', str(classes), str(chunk), str(size)],
                          capture_output=True, text=True, env=dict(os.environ, MALLOC_ARENA_MAX='2'))
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=384)
    parser.add_argument('--chunk', type=int, default=64, help='class chunk size of the chunked case')
    parser.add_argument('--worker', nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    cases = [(150, 0), (847, 0), (847, args.chunk)]
    rows = [run_case(c, k, args.size) for c, k in cases]
    print(f'Cat-Seg head, ViT-B/16 sizes, {args.size} px, batch 1, inference (no autograd), CPU')
    print(f'{"classes":>7} {"chunk":>5} {"peak MiB":>9} {"seconds":>8} {"cost emb MiB":>12} '
          f'{"logits MiB":>10}')
    for r in rows:
        print(f'{r["classes"]:>7} {r["chunk"] or "-":>5} {r["peak_mib"]:>9} {r["seconds"]:>8} '
              f'{r["cost_embedding_mib"]:>12} {r["logits_mib"]:>10}')
    base = rows[0]['peak_mib']
    for r in rows[1:]:
        print(f'{r["classes"]} classes, chunk {r["chunk"] or "none"}: {r["peak_mib"] / base:.2f}x '
              'the 150-class peak (target with chunks: < 1.5x)')


if __name__ == '__main__':
    main()
