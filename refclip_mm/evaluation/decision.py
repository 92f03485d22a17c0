"""Pre-registered decisions on paired differences over seeds (holds / contradicted / undecided).

A claim says a paired difference (e.g. R-SC-RLA minus SC-RLA mIoU on the same seed) has a sign.
Over ``n`` seeds the two-sided ``confidence`` interval of the mean difference (Student t)
decides it: the interval excludes 0 on the claimed side = ``holds``, on the other side =
``contradicted``, contains 0 = ``undecided``. With the interval comes the smallest true effect
the protocol would detect (two-sided test at ``1 - confidence``, power ``power``), so an
``undecided`` verdict says how large an effect could have gone unseen.
"""
import math
from dataclasses import asdict, dataclass
from typing import Dict, Sequence

import numpy as np

VERDICTS = ('holds', 'contradicted', 'undecided')


@dataclass
class Decision:
    """The verdict on one claimed paired difference.

    Attributes:
        verdict: ``'holds'``, ``'contradicted'`` or ``'undecided'``.
        claimed_sign: ``+1`` (difference > 0 claimed) or ``-1``.
        n: number of paired values (seeds).
        mean / std: of the differences (``std`` with ``n - 1``).
        low / high: the two-sided ``confidence`` interval of the mean.
        confidence: e.g. 0.95.
        detectable: the smallest true mean difference detected with probability
            ``power`` (same units as the values); ``inf`` when ``n < 2``.
        agreeing: how many of the ``n`` differences have the claimed sign.
    """
    verdict: str
    claimed_sign: int
    n: int
    mean: float
    std: float
    low: float
    high: float
    confidence: float
    detectable: float
    agreeing: int

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)


def t_interval(values: Sequence[float], confidence: float = 0.95):
    """``(mean, std, low, high)`` of the Student-t interval of the mean of ``values``."""
    from scipy import stats
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0 or not np.isfinite(x).all():
        raise ValueError(f'need a non-empty 1-d sequence of finite values, got {values!r}')
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float('nan'), -math.inf, math.inf
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1)) * std / math.sqrt(len(x))
    return mean, std, mean - half, mean + half


def detectable_effect(std: float, n: int, confidence: float = 0.95, power: float = 0.8) -> float:
    """Smallest true mean difference a paired t-test over ``n`` seeds detects with ``power``.

    The usual approximation ``(t_{1-a/2} + t_{power}) * std / sqrt(n)`` with ``n - 1``
    degrees of freedom (``a = 1 - confidence``).
    """
    from scipy import stats
    if n < 2 or not math.isfinite(std):
        return math.inf
    df = n - 1
    return float((stats.t.ppf(0.5 + confidence / 2, df) + stats.t.ppf(power, df))
                 * std / math.sqrt(n))


def seeds_needed(std: float, effect: float, confidence: float = 0.95, power: float = 0.8,
                 max_seeds: int = 1000) -> int:
    """Fewest seeds whose :func:`detectable_effect` is at most ``effect`` (given a paired std)."""
    if effect <= 0:
        raise ValueError(f'effect must be > 0, got {effect}')
    for n in range(2, max_seeds + 1):
        if detectable_effect(std, n, confidence, power) <= effect:
            return n
    raise ValueError(f'an effect of {effect} with std {std} needs more than {max_seeds} seeds')


def decide(differences: Sequence[float], claimed_sign: int, confidence: float = 0.95,
           power: float = 0.8) -> Decision:
    """Decide a claim on paired differences (see the module docstring).

    Args:
        differences: one paired difference per seed (claimed minus reference).
        claimed_sign: ``+1`` if the claim is "the difference is positive", ``-1`` if negative.
        confidence: of the two-sided interval.
        power: for :attr:`Decision.detectable`.
    """
    if claimed_sign not in (1, -1):
        raise ValueError(f'claimed_sign must be +1 or -1, got {claimed_sign!r}')
    mean, std, low, high = t_interval(differences, confidence)
    if low > 0 or high < 0:
        verdict = 'holds' if (low > 0) == (claimed_sign > 0) else 'contradicted'
    else:
        verdict = 'undecided'
    x = np.asarray(differences, dtype=np.float64)
    return Decision(verdict=verdict, claimed_sign=claimed_sign, n=len(x), mean=mean, std=std,
                    low=low, high=high, confidence=confidence,
                    detectable=detectable_effect(std, len(x), confidence, power),
                    agreeing=int((np.sign(x) == claimed_sign).sum()))
