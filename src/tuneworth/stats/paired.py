"""Paired comparisons between rungs scored on the same test items (groundwork for the decision).

Paired data needs paired tests: exact McNemar on the discordant pairs for pass/fail scores, a
seeded paired bootstrap for continuous scores, Holm's step-down correction across comparisons,
and the power side: the smallest difference this test size can detect, and the size needed for a
given one. Pure Python (math only), so reports can use it without numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tuneworth.stats.score_ci import resampled_means


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (b: only A right, c: only B right)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, seed: int = 0, resamples: int = 4000
) -> tuple[float, float, float, float]:
    """Mean difference b - a, its 95% percentile interval, and a two-sided bootstrap p-value."""
    if len(a) != len(b) or not a:
        raise ValueError("paired samples must be non-empty and of equal length")
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    means = resampled_means(diffs, seed=seed, resamples=resamples)
    lo, hi = means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]
    # p-value: how often the resampled mean lands on the other side of zero (doubled, capped at 1).
    below = sum(1 for m in means if m <= 0) / resamples
    above = sum(1 for m in means if m >= 0) / resamples
    return mean, lo, hi, min(1.0, 2 * min(below, above))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _z(p: float) -> float:
    """Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9)."""
    a = [
        -39.69683028665376,
        220.9460984245205,
        -275.9285104469687,
        138.357751867269,
        -30.66479806614716,
        2.506628277459239,
    ]
    b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572]
    c = [
        -0.007784894002430293,
        -0.3223964580411365,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ]
    d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    if p > 1 - 0.02425:
        return -_z(1 - p)
    q = p - 0.5
    r = q * q
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


def required_pairs(discordant_rate: float, effect: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Items needed for McNemar to detect a gain of ``effect`` (p_B - p_A) given the discordant-pair
    rate (share of items where the two rungs disagree), by the normal approximation (Connor 1987)."""
    if not 0 < abs(effect) <= discordant_rate <= 1:
        raise ValueError("need 0 < |effect| <= discordant_rate <= 1")
    za, zb = _z(1 - alpha / 2), _z(power)
    n = (za * math.sqrt(discordant_rate) + zb * math.sqrt(discordant_rate - effect**2)) ** 2 / effect**2
    return math.ceil(n)


def min_detectable_effect(
    n: int, discordant_rate: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest gain McNemar detects with ``n`` items at this discordant rate (bisection on ``required_pairs``)."""
    lo, hi = 1e-6, discordant_rate
    if required_pairs(discordant_rate, hi, alpha=alpha, power=power) > n:
        return float("inf")
    for _ in range(60):
        mid = (lo + hi) / 2
        if required_pairs(discordant_rate, mid, alpha=alpha, power=power) <= n:
            hi = mid
        else:
            lo = mid
    return hi


__all__ = ["holm", "mcnemar_exact", "min_detectable_effect", "paired_bootstrap", "required_pairs"]
