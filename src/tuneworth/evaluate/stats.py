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


def bootstrap_mean_ci(
    values: Sequence[float], *, seed: int = 0, resamples: int = 2000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean (seeded, so records are reproducible)."""
    n = len(values)
    if n == 0:
        return (0.0, 1.0)
    if n == 1 or min(values) == max(values):
        # A degenerate sample says nothing about spread; fall back to Wilson on the mean as a proportion.
        return wilson(sum(values), n)
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
