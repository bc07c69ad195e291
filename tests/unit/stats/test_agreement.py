"""Judge calibration statistics against scipy / scikit-learn, and the interval's coverage."""

from __future__ import annotations

import math
import random

import pytest

from tuneworth.stats.agreement import cohen_kappa, kappa_ci, ranks, spearman, spearman_ci

scipy_stats = pytest.importorskip("scipy.stats")


def _pairs(seed: int, n: int) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    human = [rng.randint(1, 5) for _ in range(n)]
    judge = [min(5, max(1, h + rng.choice([-2, -1, 0, 0, 0, 1]))) for h in human]
    return human, judge


@pytest.mark.parametrize("seed", range(6))
def test_spearman_matches_scipy_with_ties(seed: int) -> None:
    human, judge = _pairs(seed, 25)
    assert spearman(human, judge) == pytest.approx(scipy_stats.spearmanr(human, judge).statistic, abs=1e-12)
    assert ranks(human) == pytest.approx(list(scipy_stats.rankdata(human)))


def test_spearman_undefined_for_a_constant_rater() -> None:
    assert math.isnan(spearman([3, 3, 3, 3], [1, 2, 3, 4]))
    assert spearman_ci(math.nan, 20) == (-1.0, 1.0)


@pytest.mark.parametrize("seed", range(4))
def test_kappa_matches_scikit_learn(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    human, judge = _pairs(seed, 30)
    cats = [1, 2, 3, 4, 5]
    assert cohen_kappa(human, judge, cats) == pytest.approx(metrics.cohen_kappa_score(human, judge), abs=1e-12)
    assert cohen_kappa(human, judge, cats, weights="quadratic") == pytest.approx(
        metrics.cohen_kappa_score(human, judge, weights="quadratic"), abs=1e-12
    )


def test_kappa_known_value() -> None:
    # 2x2 table [[20, 5], [10, 15]]: po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4
    a = [1] * 25 + [2] * 25
    b = [1] * 20 + [2] * 5 + [1] * 10 + [2] * 15
    assert cohen_kappa(a, b, [1, 2]) == pytest.approx(0.4)
    lo, hi = kappa_ci(a, b, [1, 2], seed=1)
    assert lo < 0.4 < hi


def test_spearman_interval_covers_the_true_correlation() -> None:
    """Fisher-z (Bonett-Wright) at n=20: coverage of the population Spearman near the nominal 95%."""
    np = pytest.importorskip("numpy")
    rho = 0.6
    true = 6 / math.pi * math.asin(rho / 2)  # Spearman of a bivariate normal with correlation rho
    rng = np.random.default_rng(7)
    cov = [[1, rho], [rho, 1]]
    hits, reps = 0, 600
    for _ in range(reps):
        x = rng.multivariate_normal([0, 0], cov, size=20)
        r = spearman(list(x[:, 0]), list(x[:, 1]))
        lo, hi = spearman_ci(r, 20)
        hits += lo <= true <= hi
    assert 0.92 <= hits / reps <= 0.99
