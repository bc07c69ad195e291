"""Per-item flips between the training rung and the best cheaper rung on the same test items.

``fixed``: items the training rung scores higher than the cheaper rung; ``broken``: items it scores
lower. For binary metrics these are exactly McNemar's discordant pairs; for continuous ones (field
accuracy) any change. Which rung trains and which are cheaper comes from the rows' metadata
(``trains``, ``order``), never from rung names.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuneworth.record.schema import FlipsSection, ItemResult, SummaryRow


def best_cheaper(rows: Sequence[SummaryRow], rung: SummaryRow) -> SummaryRow | None:
    cheaper = [r for r in rows if r.order < rung.order and r.score is not None]
    return max(cheaper, key=lambda r: r.score or 0.0, default=None)


def flips(items: Sequence[ItemResult], rows: Sequence[SummaryRow]) -> FlipsSection | None:
    """The ``flips`` record section, or None without a training rung and a cheaper one to compare."""
    mine_row = next((r for r in rows if r.trains), None)
    other = best_cheaper(rows, mine_row) if mine_row is not None else None
    if mine_row is None or other is None:
        return None

    def scores(name: str) -> dict[str, float]:
        return {i.item_id: float(i.score or 0.0) for i in items if i.rung == name and i.phase == "test"}

    mine, theirs = scores(mine_row.name), scores(other.name)
    shared = [k for k in theirs if k in mine]
    fixed = [k for k in shared if mine[k] > theirs[k]]
    broken = [k for k in shared if mine[k] < theirs[k]]
    return FlipsSection(
        rung=mine_row.name,
        against=other.name,
        n=len(shared),
        fixed=fixed,
        broken=broken,
        n_fixed=len(fixed),
        n_broken=len(broken),
        unchanged=len(shared) - len(fixed) - len(broken),
    )
