"""Per-item flips between two rungs on the same test items: fixed (wrong -> right) and broken.

The record's own ``flips`` section (written by L4) is used when present; otherwise flips are
computed from items.jsonl for the top rung against its best cheaper rung, with both outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def compute_flips(items: Sequence[dict[str, Any]], baseline: str, rung: str) -> dict[str, Any]:
    """{"baseline", "rung", "fixed": [...], "broken": [...]} with item ids, scores and outputs."""
    by: dict[str, dict[str, dict[str, Any]]] = {baseline: {}, rung: {}}
    for it in items:
        if it.get("phase") == "test" and it.get("rung") in by and it.get("score") is not None:
            by[it["rung"]][str(it["item_id"])] = it
    fixed: list[dict[str, Any]] = []
    broken: list[dict[str, Any]] = []
    for item_id, a in by[baseline].items():
        b = by[rung].get(item_id)
        if b is None or a["score"] == b["score"]:
            continue
        entry = {
            "item_id": item_id,
            "baseline_score": a["score"],
            "score": b["score"],
            "baseline_output": a.get("output", ""),
            "output": b.get("output", ""),
        }
        (fixed if b["score"] > a["score"] else broken).append(entry)
    fixed.sort(key=lambda e: e["baseline_score"] - e["score"])
    broken.sort(key=lambda e: e["score"] - e["baseline_score"])
    return {"baseline": baseline, "rung": rung, "fixed": fixed, "broken": broken}


def flips_for_report(header: dict[str, Any], items: Sequence[dict[str, Any]], statistics: dict[str, Any]) -> dict[str, Any] | None:
    """The flips to show: the record's ``flips`` section, else the top comparison's, else None."""
    own = header.get("flips")
    if isinstance(own, dict):
        kept = {k: [e for e in own.get(k) or [] if isinstance(e, dict)] if isinstance(own.get(k), list) else [] for k in ("fixed", "broken")}
        if kept["fixed"] or kept["broken"]:
            return {"source": "record", "baseline": str(own.get("baseline", "")), "rung": str(own.get("rung", "L4")), **kept}
    comps = statistics.get("comparisons") or []
    if not comps:
        return None
    top = comps[-1]
    return {"source": "items", **compute_flips(items, top["baseline"], top["rung"])}
