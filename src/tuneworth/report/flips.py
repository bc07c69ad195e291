"""Per-item flips between two rungs on the same test items: fixed (wrong -> right) and broken.

Each flip shows the item's input (truncated for the table), its gold answer and both outputs, all
joined on ``item_id`` from the record's items. The pair of rungs is the record's own ``flips``
section (the training rung against its best cheaper rung) when present, else the top comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tuneworth.record.derived import Statistics
from tuneworth.record.schema import ItemResult, LoadedRun

INPUT_CHARS = 160  # an input longer than this is cut at a word boundary in the tables


@dataclass
class Flip:
    item_id: str
    baseline_score: float
    score: float
    baseline_output: str
    output: str
    input: str | None = None
    gold: str | None = None


@dataclass
class Flips:
    baseline: str
    rung: str
    source: str  # "record" (the flips section) or "items" (the top comparison)
    fixed: list[Flip] = field(default_factory=list)
    broken: list[Flip] = field(default_factory=list)


def shorten(text: str | None, limit: int = INPUT_CHARS) -> str:
    """One line, at most ``limit`` characters, cut at a word boundary with an ellipsis."""
    if not text:
        return ""
    one = " ".join(text.split())
    if len(one) <= limit:
        return one
    cut = one[: limit - 1].rsplit(" ", 1)[0] or one[: limit - 1]
    return cut + "…"


def compute_flips(items: Sequence[ItemResult], baseline: str, rung: str, *, source: str = "items") -> Flips:
    """Items whose score differs between the two rungs, with input, gold and both outputs."""
    by: dict[str, dict[str, ItemResult]] = {baseline: {}, rung: {}}
    for it in items:
        if it.phase == "test" and it.rung in by and it.score is not None:
            by[it.rung][it.item_id] = it
    out = Flips(baseline=baseline, rung=rung, source=source)
    for item_id, a in by[baseline].items():
        b = by[rung].get(item_id)
        if b is None or a.score == b.score or a.score is None or b.score is None:
            continue
        flip = Flip(
            item_id=item_id,
            baseline_score=a.score,
            score=b.score,
            baseline_output=a.output,
            output=b.output,
            input=b.input if b.input is not None else a.input,
            gold=b.gold if b.gold is not None else a.gold,
        )
        (out.fixed if b.score > a.score else out.broken).append(flip)
    out.fixed.sort(key=lambda e: e.baseline_score - e.score)
    out.broken.sort(key=lambda e: e.score - e.baseline_score)
    return out


def flips_for_report(run: LoadedRun, statistics: Statistics) -> Flips | None:
    """The flips to show: the record's ``flips`` pair, else the top comparison's, else None."""
    own = run.header.flips
    if own is not None and (own.fixed or own.broken):
        return compute_flips(run.items, own.against, own.rung, source="record")
    if not statistics.comparisons:
        return None
    top = statistics.comparisons[-1]
    return compute_flips(run.items, top.baseline, top.rung)
