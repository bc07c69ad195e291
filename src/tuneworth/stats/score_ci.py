"""Statistics for scores: Wilson intervals for proportions, a seeded bootstrap otherwise, percentiles.

The Wilson interval keeps its coverage at small n and at scores near 0 or 1, where the normal
approximation collapses to a zero-width interval.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Z95 = 1.959963984540054


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 and n successes the bounds are exactly 0 and 1; rounding must not leave them beside the estimate.
    low = 0.0 if successes <= 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes >= n else min(1.0, max(p, centre + half))
    return (low, high)


def resampled_means(values: Sequence[float], *, seed: int, resamples: int) -> list[float]:
    """Sorted means of ``resamples`` seeded bootstrap resamples of ``values``."""
    n = len(values)
    rng = random.Random(seed)
    return sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))


def constant_mean_ci(
    value: float, n: int, *, bounds: tuple[float, float] = (0.0, 1.0), z: float = Z95
) -> tuple[float, float]:
    """Interval for the mean of a bounded score when all ``n`` observed items scored ``value``.

    The bootstrap collapses to ``[value, value]`` here, which claims a certainty no sample of n
    items has. Instead: the share of items that would score differently is at most the Wilson
    upper bound for 0 of n, and at worst they sit at the scale's bounds, so the mean lies in
    ``[value - q (value - lo), value + q (hi - value)]``. For a value at a bound (every score 0 or
    every score 1) this is exactly Wilson's interval for 0 or n successes; inside the scale it is
    narrower, and it never leaves the scale (judge scores 1-5 pass ``bounds=(1, 5)``).
    """
    if n <= 0:
        return bounds
    lo, hi = min(bounds[0], value), max(bounds[1], value)
    q = wilson(0, n, z)[1]
    return (value - q * (value - lo), value + q * (hi - value))


def bootstrap_mean_ci(
    values: Sequence[float],
    *,
    seed: int = 0,
    resamples: int = 2000,
    level: float = 0.95,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean (seeded, so records are reproducible).

    ``bounds``: the score's scale, used only when every value is the same (``constant_mean_ci``).
    """
    n = len(values)
    if n == 0:
        return bounds
    if min(values) == max(values):
        from statistics import NormalDist

        return constant_mean_ci(float(values[0]), n, bounds=bounds, z=NormalDist().inv_cdf((1 + level) / 2))
    means = resampled_means(values, seed=seed, resamples=resamples)
    lo = means[int((1 - level) / 2 * resamples)]
    hi = means[min(resamples - 1, int((1 + level) / 2 * resamples))]
    return (lo, hi)


def score_ci(values: Sequence[float], *, binary: bool, seed: int = 0) -> tuple[float, float]:
    if binary:
        return wilson(sum(values), len(values))
    return bootstrap_mean_ci(values, seed=seed)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
