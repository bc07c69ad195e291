"""Agreement statistics between a judge and people: Spearman's rho and Cohen's kappa, with intervals.

Spearman uses average ranks for ties (as scipy does) and a Fisher-z interval with the
Bonett-Wright variance ``(1 + rho^2 / 2) / (n - 3)``, which keeps its coverage for rank
correlations at small n. Kappa (unweighted, or quadratic-weighted for ordinal 1-5 scores) gets a
seeded percentile bootstrap over items. No numpy/scipy here: these are tens of items.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from tuneworth.stats.intervals import Z95


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties getting the average of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        avg = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = avg
        i = j + 1
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return math.nan  # a constant rater: correlation is undefined (scipy says nan too)
    return sxy / math.sqrt(sxx * syy)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (nan when either side is constant or n < 2)."""
    if len(x) != len(y):
        raise ValueError("spearman: x and y differ in length")
    if len(x) < 2:
        return math.nan
    return pearson(ranks(x), ranks(y))


def spearman_ci(rho: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Fisher-z interval with the Bonett-Wright variance; (-1, 1) when n < 4 or rho is undefined."""
    if n < 4 or math.isnan(rho):
        return (-1.0, 1.0)
    r = max(-0.999999, min(0.999999, rho))
    half = z * math.sqrt((1 + r * r / 2) / (n - 3))
    zr = math.atanh(r)
    return (math.tanh(zr - half), math.tanh(zr + half))


def cohen_kappa(
    a: Sequence[int], b: Sequence[int], categories: Sequence[int], *, weights: str | None = None
) -> float:
    """Cohen's kappa of two raters over ``categories``; ``weights="quadratic"`` for ordinal scales."""
    if len(a) != len(b):
        raise ValueError("cohen_kappa: raters differ in length")
    k = len(categories)
    index = {c: i for i, c in enumerate(categories)}
    n = len(a)
    if n == 0:
        return math.nan
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        observed[index[x]][index[y]] += 1
    row = [sum(observed[i]) for i in range(k)]
    col = [sum(observed[i][j] for i in range(k)) for j in range(k)]

    def w(i: int, j: int) -> float:
        if weights == "quadratic":
            return ((i - j) / (k - 1)) ** 2 if k > 1 else 0.0
        return 0.0 if i == j else 1.0

    disagree_obs = sum(w(i, j) * observed[i][j] for i in range(k) for j in range(k)) / n
    disagree_exp = sum(w(i, j) * row[i] * col[j] for i in range(k) for j in range(k)) / (n * n)
    if disagree_exp == 0:
        return math.nan  # both raters used one and the same category: agreement beyond chance is undefined
    return 1 - disagree_obs / disagree_exp


def kappa_ci(
    a: Sequence[int],
    b: Sequence[int],
    categories: Sequence[int],
    *,
    weights: str | None = None,
    seed: int = 0,
    resamples: int = 2000,
) -> tuple[float, float]:
    """Seeded percentile bootstrap interval for kappa (resamples where kappa is undefined are skipped)."""
    n = len(a)
    if n < 2:
        return (-1.0, 1.0)
    rng = random.Random(seed)
    stats = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        kappa = cohen_kappa([a[i] for i in idx], [b[i] for i in idx], categories, weights=weights)
        if not math.isnan(kappa):
            stats.append(kappa)
    if len(stats) < resamples // 2:
        return (-1.0, 1.0)
    stats.sort()
    lo = stats[int(0.025 * len(stats))]
    hi = stats[min(len(stats) - 1, int(0.975 * len(stats)))]
    return (lo, hi)
