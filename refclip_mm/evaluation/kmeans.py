"""Seeded cosine (spherical) k-means in torch.

Tokens are L2-normalised; similarity is the dot product, centres are the
re-normalised means of their members. Initialisation is k-means++ with the
distance ``1 - cos`` drawn from a seeded :class:`torch.Generator`, so a fit is
deterministic given ``seed`` (on one device, with one thread count).
"""
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F


class KMeansResult(NamedTuple):
    """Result of :func:`spherical_kmeans`.

    Attributes:
        centers: ``k x D`` unit-norm centres.
        labels: ``N`` cluster index of every fitted token.
        inertia: sum over tokens of ``1 - cos(token, its centre)`` (lower is better).
        iterations: Lloyd iterations run by the kept restart.
    """
    centers: torch.Tensor
    labels: torch.Tensor
    inertia: float
    iterations: int


def _assign_chunked(x: torch.Tensor, centers: torch.Tensor, chunk: int):
    """Best centre and its cosine for every row of ``x`` (``N x D``), in row chunks."""
    labels, best = [], []
    for start in range(0, x.shape[0], chunk):
        sim = x[start:start + chunk] @ centers.T
        value, index = sim.max(dim=1)
        labels.append(index)
        best.append(value)
    return torch.cat(labels), torch.cat(best)


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding on unit vectors ``x`` (``N x D``) -> ``k x D`` centres."""
    n = x.shape[0]
    first = int(torch.randint(n, (1, ), generator=generator))
    centers = [x[first]]
    dist = (1 - x @ x[first]).clamp_min(0)
    for _ in range(1, k):
        total = float(dist.sum())
        if total <= 0:  # every token equals a centre already: take any token
            index = int(torch.randint(n, (1, ), generator=generator))
        else:
            index = int(torch.multinomial(dist / total, 1, generator=generator))
        centers.append(x[index])
        dist = torch.minimum(dist, (1 - x @ x[index]).clamp_min(0))
    return torch.stack(centers)


def spherical_kmeans(x: torch.Tensor, k: int, num_iters: int = 50, tol: float = 1e-4,
                     n_init: int = 3, seed: int = 0, chunk: int = 65536,
                     generator: Optional[torch.Generator] = None) -> KMeansResult:
    """Cosine k-means of ``x`` (``N x D``; normalised here) into ``k`` clusters.

    Args:
        x: tokens, any float dtype (computed in float32).
        k: number of clusters (``1 <= k <= N``).
        num_iters: maximum Lloyd iterations per restart.
        tol: stop when the mean centre movement (``1 - cos``) falls below it.
        n_init: restarts from different k-means++ seeds; the lowest inertia wins.
        seed: seed of the generator (ignored when ``generator`` is given).
        chunk: rows per similarity block (bounds memory to ``chunk x k``).

    Returns:
        :class:`KMeansResult`.
    """
    if x.dim() != 2:
        raise ValueError(f'k-means expects N x D tokens, got shape {tuple(x.shape)}')
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f'cannot make {k} clusters from {n} tokens; need 1 <= k <= number of tokens')
    if generator is None:
        generator = torch.Generator(device='cpu').manual_seed(seed)
    x = F.normalize(x.float(), dim=1)
    best: Optional[KMeansResult] = None
    for _ in range(max(1, n_init)):
        centers = kmeans_plus_plus(x, k, generator)
        iterations = 0
        for iterations in range(1, num_iters + 1):
            labels, sim = _assign_chunked(x, centers, chunk)
            sums = torch.zeros_like(centers).index_add_(0, labels, x)
            counts = torch.bincount(labels, minlength=k)
            empty = torch.nonzero(counts == 0).flatten()
            if len(empty):  # re-seed empty clusters with the worst-fitted tokens
                worst = torch.topk(sim, len(empty), largest=False).indices
                sums[empty] = x[worst]
            new_centers = F.normalize(sums, dim=1)
            shift = float((1 - (new_centers * centers).sum(dim=1)).mean())
            centers = new_centers
            if shift < tol:
                break
        labels, sim = _assign_chunked(x, centers, chunk)
        inertia = float((1 - sim).sum())
        if best is None or inertia < best.inertia:
            best = KMeansResult(centers, labels, inertia, iterations)
    return best


def assign_clusters(x: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of tokens to centres: ``... x D`` and ``k x D`` -> ``... x k``."""
    return F.normalize(x.float(), dim=-1) @ centers.T
