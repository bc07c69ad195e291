"""Paired comparisons between rungs scored on the same test items: the one home of each number.

Paired data needs paired tests: exact McNemar on the discordant pairs for pass/fail scores, a
paired bootstrap of the mean difference for continuous ones (the same exact, expanded percentile
bootstrap as a rung's own interval, ``stats.intervals``), Holm's step-down correction across
comparisons, and the power side: the smallest difference this test size can detect, and the size
needed for a given one.

Every p-value carries its *resolution*, the smallest value its method can tell from 0: 2/B for a
Monte Carlo bootstrap of B resamples (one resample past zero, doubled for two sides), float64
round-off of the FFT convolution for the exact bootstrap, the smallest float for exact McNemar.
``format_p`` prints a p-value below its resolution as "p < 1e-k" (the largest power of ten at or
above the resolution), never as "p=0".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

from tuneworth.stats.intervals import (
    bootstrap_ci_many,
    exact_bootstrap_p,
    lattice,
    resampled_means,
)

# The exact bootstrap's CDF comes from an FFT convolution: its round-off is ~1e-13 of the total
# mass, so tail probabilities below 1e-10 carry no digits.
EXACT_P_RESOLUTION = 1e-10
MCNEMAR_P_RESOLUTION = 1e-300  # exact binomial sums in integers: only float underflow limits them
RESAMPLES = 4000


class PairedDifference(NamedTuple):
    """Mean difference b - a, its 95% interval, a two-sided p-value and that p-value's resolution."""

    diff: float
    low: float
    high: float
    p: float
    p_resolution: float


def format_p(p: float, resolution: float) -> str:
    """"p=0.031", or "p < 1e-k" when ``p`` is below what its method resolves (never "p=0")."""
    if p < resolution:
        k = max(1, math.floor(-math.log10(min(resolution, 0.1))))
        return f"p < 1e-{k}"
    return f"p={p:.3g}"


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (b: only A right, c: only B right)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, seed: int = 0) -> PairedDifference:
    """Paired bootstrap of the mean difference b - a: exact on a lattice, seeded resampling
    (``RESAMPLES``) otherwise; interval by the expanded percentile rule, p two-sided against 0."""
    import numpy as np

    if len(a) != len(b) or not a:
        raise ValueError("paired samples must be non-empty and of equal length")
    diffs = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    diff = float(diffs.mean())
    # The interval as for a rung's mean (exact on a lattice, expanded percentile; all-equal
    # differences get a bounded interval, never the bootstrap's zero-width point).
    lo, hi = bootstrap_ci_many(diffs[None, :], seed=seed, bounds=(-1.0, 1.0))  # differences of [0, 1] scores
    grid = lattice(diffs)
    if grid is not None:
        p = exact_bootstrap_p(diffs[None, :], grid[0], grid[1])
        return PairedDifference(diff, float(lo[0]), float(hi[0]), p, EXACT_P_RESOLUTION)
    means = resampled_means(diffs[None, :], seed=seed, resamples=RESAMPLES)[0]
    p = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return PairedDifference(diff, float(lo[0]), float(hi[0]), p, 2 / RESAMPLES)


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
    """Standard normal quantile (the standard library's ``NormalDist``)."""
    return NormalDist().inv_cdf(p)


def mde_continuous(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest mean difference a paired test on ``n`` items detects (normal approximation)."""
    return (_z(1 - alpha / 2) + _z(power)) * sd / n**0.5 if n else float("inf")


def required_n_continuous(sd: float, effect: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Paired items needed to detect a mean difference ``effect`` with spread ``sd``."""
    return math.ceil(((_z(1 - alpha / 2) + _z(power)) * sd / effect) ** 2)


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


__all__ = [
    "PairedDifference",
    "format_p",
    "holm",
    "mcnemar_exact",
    "mde_continuous",
    "min_detectable_effect",
    "paired_bootstrap",
    "required_n_continuous",
    "required_pairs",
]
