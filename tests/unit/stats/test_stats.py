from __future__ import annotations

import random

import pytest

from tuneworth.stats.intervals import bootstrap_ci_many, constant_mean_ci, mean_interval, wilson
from tuneworth.stats.percentile import percentile


def bootstrap_mean_ci(values: list[float], bounds: tuple[float, float] = (0.0, 1.0), seed: int = 0) -> tuple[float, float]:
    """The stored interval for continuous scores (low, high)."""
    ci = mean_interval(values, binary=False, bounds=bounds, seed=seed)
    return ci.low, ci.high


def test_wilson_known_values() -> None:
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-3)  # not a zero-width interval


def test_wilson_coverage_holds_at_small_n() -> None:
    rng = random.Random(0)
    for p in (0.05, 0.3, 0.9):
        n, trials, covered = 15, 2000, 0
        for _ in range(trials):
            k = sum(rng.random() < p for _ in range(n))
            lo, hi = wilson(k, n)
            covered += lo <= p <= hi
        assert covered / trials > 0.92


def test_bootstrap_is_seeded_and_brackets_mean() -> None:
    vals = [0.25, 0.5, 0.75, 1.0, 0.0, 0.5, 0.75]
    a = bootstrap_mean_ci(vals, seed=1)
    assert a == bootstrap_mean_ci(vals, seed=1)
    assert a[0] < sum(vals) / len(vals) < a[1]


def test_percentile() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([], 50) == 0.0


def test_wilson_bounds_are_exact_at_the_extremes() -> None:
    for n in (1, 6, 7, 40, 1000):
        assert wilson(0, n)[0] == 0.0
        assert wilson(n, n)[1] == 1.0
        for k in range(0, n + 1, max(1, n // 7)):
            lo, hi = wilson(k, n)
            assert lo <= k / n <= hi


def test_constant_continuous_scores_get_an_interval_on_their_own_scale() -> None:
    """All items scoring the same: not Wilson on a made-up proportion (which, for judge scores 1-5,
    leaves the scale), and not the bootstrap's zero-width point."""
    q = wilson(0, 10)[1]  # 0.2775: at most this share of items would score differently
    lo, hi = bootstrap_mean_ci([0.75] * 10)
    assert lo == pytest.approx(0.75 - q * 0.75) and hi == pytest.approx(0.75 + q * 0.25)
    assert lo < 0.75 < hi and hi - lo == pytest.approx(q)  # the old fallback gave Wilson(7.5, 10): [0.45, 0.92]
    # At a bound it is exactly Wilson's interval for 0 or n successes.
    assert bootstrap_mean_ci([0.0] * 10) == pytest.approx(wilson(0, 10))
    assert bootstrap_mean_ci([1.0] * 10) == pytest.approx(wilson(10, 10))
    # Raw judge scores 1-5: the interval stays on the 1-5 scale (Wilson on sum 40 of 10 gave nonsense).
    lo, hi = bootstrap_mean_ci([4.0] * 10, bounds=(1.0, 5.0))
    assert 1.0 <= lo < 4.0 < hi <= 5.0
    assert (lo, hi) == pytest.approx((4.0 - q * 3.0, 4.0 + q * 1.0))
    # A single item: wide, never a point.
    assert constant_mean_ci(0.5, 1) == pytest.approx((0.5 - 0.5 * wilson(0, 1)[1], 0.5 + 0.5 * wilson(0, 1)[1]))
    # Paired differences use the same rule (and live on [-1, 1]).
    dlo, dhi = bootstrap_ci_many([[0.0] * 10], bounds=(-1.0, 1.0))
    assert (dlo[0], dhi[0]) == pytest.approx((-q, q))


def test_constant_interval_covers_when_a_few_items_differ() -> None:
    """Coverage: scores are 0.75 except a rare 0 (probability 2%); samples that happen to be constant
    still get intervals covering the true mean in at least ~95% of all runs."""
    rng = random.Random(3)
    mu = 0.98 * 0.75
    covered = runs = 0
    for _ in range(3000):
        vals = [0.0 if rng.random() < 0.02 else 0.75 for _ in range(12)]
        if len(set(vals)) > 1:
            continue
        runs += 1
        lo, hi = bootstrap_mean_ci(vals)
        covered += lo <= mu <= hi
    assert runs > 1000 and covered / runs > 0.99  # the bootstrap's point [0.75, 0.75] covers 0 of them
