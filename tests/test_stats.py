from __future__ import annotations

import random

import pytest

from tuneworth.evaluate.stats import bootstrap_mean_ci, percentile, wilson


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
    from tuneworth.evaluate.stats import wilson

    for n in (1, 6, 7, 40, 1000):
        assert wilson(0, n)[0] == 0.0
        assert wilson(n, n)[1] == 1.0
        for k in range(0, n + 1, max(1, n // 7)):
            lo, hi = wilson(k, n)
            assert lo <= k / n <= hi
