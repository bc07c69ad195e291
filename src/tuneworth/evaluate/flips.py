"""Per-item flips between the fine-tuned rung and the best cheaper rung on the same test items.

``fixed``: items L4 scores higher than the cheaper rung; ``broken``: items it scores lower. For binary
metrics these are exactly McNemar's discordant pairs; for continuous ones (field accuracy) any change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def best_cheaper(rows: Sequence[dict[str, Any]], rung: str) -> dict[str, Any] | None:
    cheaper = [r for r in rows if r["name"] < rung and r.get("score") is not None]
    return max(cheaper, key=lambda r: r["score"], default=None)


def flips(
    items: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], rung: str = "L4"
) -> dict[str, Any] | None:
    """The ``flips`` record section, or None when there is no cheaper rung to compare with."""
    other = best_cheaper(rows, rung)
    if other is None or not any(r["name"] == rung for r in rows):
        return None

    def scores(name: str) -> dict[str, float]:
        return {
            i["item_id"]: float(i["score"] or 0.0)
            for i in items
            if i["rung"] == name and i["phase"] == "test"
        }

    mine, theirs = scores(rung), scores(other["name"])
    shared = [k for k in theirs if k in mine]
    fixed = [k for k in shared if mine[k] > theirs[k]]
    broken = [k for k in shared if mine[k] < theirs[k]]
    return {
        "rung": rung,
        "against": other["name"],
        "n": len(shared),
        "fixed": fixed,
        "broken": broken,
        "n_fixed": len(fixed),
        "n_broken": len(broken),
        "unchanged": len(shared) - len(fixed) - len(broken),
    }
