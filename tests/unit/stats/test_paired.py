from __future__ import annotations

import random

import pytest

from tuneworth.stats.paired import (
    _z,
    holm,
    mcnemar_exact,
    min_detectable_effect,
    paired_bootstrap,
    required_pairs,
)


def test_mcnemar_exact_known_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # 0.03125
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(5, 5) == 1.0


def test_mcnemar_is_not_anticonservative_under_the_null() -> None:
    rng = random.Random(1)
    rejections, trials = 0, 3000
    for _ in range(trials):
        disc = sum(rng.random() < 0.3 for _ in range(40))  # discordant pairs out of 40 items
        b = sum(rng.random() < 0.5 for _ in range(disc))
        rejections += mcnemar_exact(b, disc - b) < 0.05
    assert rejections / trials <= 0.05


def test_paired_bootstrap_detects_a_real_gain_and_not_a_null_one() -> None:
    rng = random.Random(2)
    a = [rng.random() for _ in range(60)]
    b = [min(1.0, x + 0.2) for x in a]
    mean, lo, hi, p, _ = paired_bootstrap(a, b, seed=3)
    assert lo > 0 and p < 0.01 and lo <= mean <= hi
    _, lo0, hi0, p0, _ = paired_bootstrap(a, a[::-1], seed=3)
    assert lo0 < 0 < hi0 and p0 > 0.05


def test_holm() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []


def test_power_helpers() -> None:
    assert _z(0.975) == pytest.approx(1.959964, abs=1e-6)
    n = required_pairs(0.3, 0.1)
    assert 200 < n < 300  # ~234 items to see +10 points when the rungs disagree on 30% of items
    mde = min_detectable_effect(n, 0.3)
    assert mde == pytest.approx(0.1, abs=0.005)
    assert min_detectable_effect(40, 0.3) > 0.2  # the demo's 40 test items can only see large gains
    with pytest.raises(ValueError):
        required_pairs(0.1, 0.2)
