"""The trade between rungs: score against latency against cost per 1k requests, each rung on its own
model (a large prompted model on L1-L3 against a small fine-tuned one on L4, say).

Everything comes from the record: the score and its interval from the summary row, the measured
latency from the summary row, the cost per 1k requests (and its basis) from ``costs``. The list is
kept in the ``costs`` section as ``trade`` and drawn as the report's trade chart.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuneworth.record.derived import RungCost, TradePoint
from tuneworth.record.schema import SummaryRow


def trade_points(rows: Sequence[SummaryRow], cost_rungs: Sequence[RungCost]) -> list[TradePoint]:
    """One point per rung: rung, title, model, score [stored interval], latency p50/p95 (ms), $ per 1k."""
    costs = {c.rung: c for c in cost_rungs}
    out = []
    for r in rows:
        c = costs.get(r.name)
        out.append(
            TradePoint(
                rung=r.name,
                title=r.title or r.name,
                model=(c.model if c else None) or r.model,
                score=r.score,
                ci_low=r.ci_low,  # the row's stored interval, never recomputed
                ci_high=r.ci_high,
                latency_p50_ms=r.latency_p50_ms,
                latency_p95_ms=r.latency_p95_ms,
                usd_per_1k=c.usd_per_1k if c else None,
                cost_basis=(c.priced_as or c.basis) if c else None,
            )
        )
    return out
