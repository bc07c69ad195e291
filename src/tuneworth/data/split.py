"""Seeded, stratified, leakage-free train/validation/test splits.

The unit of assignment is a *group* of examples with the same normalized input, so an exact
duplicate can never sit in train and test at once. Groups are stratified on a key (the label, or a
JSON field) and allocated to splits by the largest-remainder method, so every split keeps the
class proportions as closely as whole numbers allow.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuneworth.data.example import Example
from tuneworth.errors import ConfigError

if TYPE_CHECKING:
    from tuneworth.config.task import Task


@dataclass(frozen=True)
class Split:
    train: list[Example]
    validation: list[Example]
    test: list[Example]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def stratum_of(task: Task) -> Callable[[Example], str]:
    """An example's class for stratification: a JSON field (``data.stratify``), else the whole output."""
    field = task.data.stratify
    if task.output.kind == "json" and field:

        def key(ex: Example) -> str:
            try:
                value = json.loads(ex.output).get(field)
            except (json.JSONDecodeError, AttributeError):
                return ""
            return str(value)

        return key
    return lambda ex: ex.output.strip()


def split_stratum(task: Task) -> Callable[[Example], str] | None:
    """What splits stratify on: the label for label tasks, ``data.stratify`` if set, else nothing."""
    return stratum_of(task) if task.output.kind == "label" or task.data.stratify else None


def normalize_input(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def resolve_size(size: float | int, total: int, what: str) -> int:
    """A fraction in (0, 1) of ``total``, or an absolute count."""
    if isinstance(size, float) and 0 < size < 1:
        return max(1, round(size * total))
    if size >= 1 and float(size).is_integer():
        return int(size)
    raise ConfigError(f"{what} must be a fraction between 0 and 1 or a whole count >= 1, got {size!r}")


def split_examples(
    examples: list[Example],
    *,
    validation_size: float | int,
    test_size: float | int,
    seed: int,
    stratify: Callable[[Example], str] | None = None,
) -> Split:
    """Split ``examples`` into train/validation/test, seeded and stratified, without leakage."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[normalize_input(ex.input)].append(ex)
    units = list(groups.values())
    n_val = resolve_size(validation_size, len(units), "validation_size")
    n_test = resolve_size(test_size, len(units), "test_size")
    if n_val + n_test >= len(units):
        raise ConfigError(
            f"validation ({n_val}) + test ({n_test}) leave no training examples out of {len(units)} distinct inputs",
            hint="lower validation_size/test_size or add examples",
        )
    rng = random.Random(seed)
    strata: dict[str, list[list[Example]]] = defaultdict(list)
    for unit in units:
        strata[stratify(unit[0]) if stratify else ""].append(unit)
    keys = sorted(strata)
    for k in keys:
        rng.shuffle(strata[k])
    test_alloc = _largest_remainder({k: len(strata[k]) for k in keys}, n_test)
    remaining = {k: len(strata[k]) - test_alloc[k] for k in keys}
    val_alloc = _largest_remainder(remaining, n_val)
    train: list[Example] = []
    val: list[Example] = []
    test: list[Example] = []
    for k in keys:
        units_k = strata[k]
        t, v = test_alloc[k], val_alloc[k]
        for unit in units_k[:t]:
            test.extend(unit)
        for unit in units_k[t : t + v]:
            val.extend(unit)
        for unit in units_k[t + v :]:
            train.extend(unit)
    # Shuffle within each split so that order carries no stratum information.
    for part in (train, val, test):
        rng.shuffle(part)
    return Split(train=train, validation=val, test=test)


def _largest_remainder(counts: dict[str, int], total: int) -> dict[str, int]:
    """Allocate ``total`` across strata proportionally to ``counts`` (never more than a stratum has)."""
    available = sum(counts.values())
    if available == 0 or total <= 0:
        return {k: 0 for k in counts}
    total = min(total, available)
    exact = {k: counts[k] * total / available for k in counts}
    alloc = {k: min(counts[k], int(exact[k])) for k in counts}
    short = total - sum(alloc.values())
    order = sorted(counts, key=lambda k: (-(exact[k] - int(exact[k])), k))
    while short > 0:
        progressed = False
        for k in order:
            if short and alloc[k] < counts[k]:
                alloc[k] += 1
                short -= 1
                progressed = True
        if not progressed:
            break
    return alloc
