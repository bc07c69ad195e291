"""The decision's statistics against scipy/statsmodels reference values, and interval coverage by
simulation (2000 runs at n=50 and n=500, vectorised)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from tuneworth.decide.statistics import compare
from tuneworth.stats.intervals import (
    bootstrap_ci_many,
    exact_bootstrap_quantiles,
    expanded_tail,
    lattice,
    mean_interval,
    resampled_means,
    wilson,
)
from tuneworth.stats.paired import holm, mcnemar_exact, required_pairs

RUNS = 2000


@pytest.mark.parametrize("k,n", [(0, 10), (8, 10), (37, 50), (312, 500), (500, 500)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    lo, hi = wilson(k, n)
    ref = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert float(lo) == pytest.approx(ref[0], abs=1e-9) and float(hi) == pytest.approx(ref[1], abs=1e-9)


@pytest.mark.parametrize("b,c", [(0, 6), (1, 9), (5, 5), (12, 30), (40, 61)])
def test_mcnemar_matches_statsmodels(b: int, c: int) -> None:
    ref = mcnemar([[10, b], [c, 10]], exact=True).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(ref, rel=1e-9)


def test_holm_matches_statsmodels() -> None:
    p = [0.01, 0.04, 0.03, 0.2, 0.0005]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


@pytest.mark.parametrize("n", [5, 10, 50, 500])
def test_expanded_tail_uses_the_t_quantile(n: int) -> None:
    t = sps.t.ppf(0.975, n - 1)
    assert expanded_tail(n) == pytest.approx(sps.norm.cdf(-np.sqrt(n / (n - 1)) * t), rel=1e-6)


def test_exact_bootstrap_equals_monte_carlo_bootstrap() -> None:
    rng = np.random.default_rng(3)
    x = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=(3, 80), p=[0.1, 0.1, 0.2, 0.3, 0.3])
    d, off = lattice(x)  # type: ignore[misc]
    assert d == 4 and off == 0.0
    lo, hi = exact_bootstrap_quantiles(x, d, off, (0.025, 0.975))
    means = resampled_means(x, seed=1, resamples=40000)
    assert np.allclose(lo, np.quantile(means, 0.025, axis=1), atol=0.0126)  # one lattice step (1/(4*80))
    assert np.allclose(hi, np.quantile(means, 0.975, axis=1), atol=0.0126)


def test_paired_bootstrap_difference_matches_scipy_paired_t_at_large_n() -> None:
    rng = np.random.default_rng(5)
    a = rng.choice([0, 0.5, 1.0], size=600)
    b = np.clip(a + rng.choice([-0.5, 0, 0.5], size=600, p=[0.2, 0.5, 0.3]), 0, 1)
    c = compare(list(a), list(b), binary=False, min_gain=0.03, alpha=0.05, power=0.8)
    ref = sps.ttest_rel(b, a)
    ci = ref.confidence_interval(0.95)
    assert c["ci_low"] == pytest.approx(ci.low, abs=0.006) and c["ci_high"] == pytest.approx(
        ci.high, abs=0.006
    )
    assert (c["p"] < 0.05) == (ref.pvalue < 0.05)


def test_required_pairs_matches_a_simulated_power() -> None:
    # Connor's formula: at the returned n, exact McNemar should reject about 80% of the time.
    n = required_pairs(0.3, 0.1)
    rng = np.random.default_rng(7)
    disc = rng.binomial(n, 0.3, size=RUNS)
    b = rng.binomial(disc, 0.1 / 0.3 / 2 + 0.5)  # share of discordant pairs that favour the new rung
    rejections = np.mean([mcnemar_exact(int(d - x), int(x)) < 0.05 for d, x in zip(disc, b, strict=True)])
    assert 0.74 <= rejections <= 0.86


@pytest.mark.parametrize("n", [50, 500])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_wilson_coverage_by_simulation(n: int, p: float) -> None:
    k = np.random.default_rng(n + int(p * 10)).binomial(n, p, size=RUNS)
    lo, hi = wilson(k, n)
    assert 0.93 <= np.mean((lo <= p) & (p <= hi)) <= 0.97


@pytest.mark.parametrize("n", [50, 500])
@pytest.mark.parametrize(
    "probs", [(0.1, 0.1, 0.2, 0.3, 0.3), (0.5, 0.1, 0.1, 0.1, 0.2), (0.03, 0.05, 0.12, 0.3, 0.5)]
)
def test_bootstrap_coverage_by_simulation(n: int, probs: tuple[float, ...]) -> None:
    """Field-accuracy-like scores (quarters): the reported interval covers the true mean 93-97%."""
    levels = np.array([0, 0.25, 0.5, 0.75, 1.0])
    mu = float(np.dot(probs, levels))
    x = np.random.default_rng(n).choice(levels, size=(RUNS, n), p=probs)
    lo, hi = bootstrap_ci_many(x)
    assert 0.93 <= np.mean((lo <= mu) & (mu <= hi)) <= 0.97


def test_interval_contains_the_estimate_at_the_edges() -> None:
    for n in (1, 7, 40, 1000):
        assert mean_interval([1.0] * n, binary=True)[:2] == (pytest.approx(wilson(n, n)[0]), 1.0)
        assert mean_interval([0.0] * n, binary=True)[0] == 0.0
        lo, hi, _ = mean_interval([1.0] * n, binary=False)
        assert lo <= 1.0 <= hi


def test_mean_ci_methods() -> None:
    assert mean_interval([1, 0, 1, 1], binary=True)[2] == "wilson"
    lo, hi, method = mean_interval([0.25, 0.5, 1.0, 0.75] * 10, binary=False)
    assert method == "bootstrap" and lo < 0.625 < hi
    assert tuple(mean_interval([], binary=True)) == (0.0, 1.0, "none")
    # Off-lattice scores fall back to seeded resampling, reproducibly.
    vals = list(np.random.default_rng(1).random(40))
    assert mean_interval(vals, binary=False) == mean_interval(vals, binary=False)
