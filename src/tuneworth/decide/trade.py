"""The trade between rungs: score against latency against cost per 1k requests, each rung on its own
model (a large prompted model on L1-L3 against a small fine-tuned one on L4, say).

Everything comes from the record: the score and its interval from the summary row, the measured
latency from the summary row, the cost per 1k requests (and its basis) from ``costs``. The list is
kept in the ``costs`` section as ``trade`` and drawn as the report's trade chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def trade_points(
    rows: Sequence[dict[str, Any]], cost_rungs: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One point per rung: rung, title, model, score [ci], latency p50/p95 (ms), $ per 1k requests."""
    costs = {c["rung"]: c for c in cost_rungs}
    out = []
    for r in rows:
        c = costs.get(r["name"], {})
        out.append(
            {
                "rung": r["name"],
                "title": r.get("title", r["name"]),
                "model": c.get("model") or r.get("model"),
                "score": r.get("score"),
                "ci_low": r.get("ci_low"),  # the row's stored interval, never recomputed
                "ci_high": r.get("ci_high"),
                "latency_p50_ms": r.get("latency_p50_ms"),
                "latency_p95_ms": r.get("latency_p95_ms"),
                "usd_per_1k": c.get("usd_per_1k"),
                "cost_basis": c.get("priced_as") or c.get("basis"),
            }
        )
    return out
