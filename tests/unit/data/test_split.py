from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuneworth.data.example import Example
from tuneworth.data.split import split_examples
from tuneworth.errors import ConfigError


def _examples(n: int, labels: int = 3) -> list[Example]:
    return [Example(id=str(i), input=f"text {i}", output=f"L{i % labels}") for i in range(n)]


def test_seeded_and_deterministic() -> None:
    ex = _examples(100)
    a = split_examples(ex, validation_size=0.1, test_size=0.2, seed=1, stratify=lambda e: e.output)
    b = split_examples(ex, validation_size=0.1, test_size=0.2, seed=1, stratify=lambda e: e.output)
    c = split_examples(ex, validation_size=0.1, test_size=0.2, seed=2, stratify=lambda e: e.output)
    assert [e.id for e in a.test] == [e.id for e in b.test]
    assert [e.id for e in a.test] != [e.id for e in c.test]
    assert a.sizes() == {"train": 70, "validation": 10, "test": 20}


def test_stratified_keeps_proportions() -> None:
    ex = [Example(id=str(i), input=f"t{i}", output="rare" if i < 10 else "common") for i in range(100)]
    s = split_examples(ex, validation_size=10, test_size=20, seed=3, stratify=lambda e: e.output)
    assert Counter(e.output for e in s.test) == {"common": 18, "rare": 2}
    assert Counter(e.output for e in s.validation) == {"common": 9, "rare": 1}


def test_duplicates_never_straddle_splits() -> None:
    ex = [Example(id=str(i), input=f"Same  text {i % 20}", output="x") for i in range(60)]
    s = split_examples(ex, validation_size=4, test_size=4, seed=0)

    def keys(part: list[Example]) -> set[str]:
        return {e.input.lower().replace("  ", " ") for e in part}

    assert not keys(s.train) & keys(s.test)
    assert not keys(s.train) & keys(s.validation)
    assert not keys(s.validation) & keys(s.test)


def test_too_small_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="leave no training examples"):
        split_examples(_examples(5), validation_size=2, test_size=3, seed=0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(10, 120),
    labels=st.integers(1, 6),
    seed=st.integers(0, 9),
    val=st.integers(1, 4),
    test=st.integers(1, 4),
)
def test_partition_property(n: int, labels: int, seed: int, val: int, test: int) -> None:
    ex = _examples(n, labels)
    s = split_examples(ex, validation_size=val, test_size=test, seed=seed, stratify=lambda e: e.output)
    ids = [e.id for e in s.train + s.validation + s.test]
    assert sorted(ids) == sorted(e.id for e in ex)  # a partition: nothing lost, nothing twice
    assert len(s.validation) == val and len(s.test) == test
