"""Summarize per-item results into one row per rung (the ``summary.json`` contract).

The row's 95% interval is computed here, once (``stats.intervals.mean_interval``), and stored on
the row; every view prints the stored bounds and never recomputes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.evaluate.metrics import BINARY
from tuneworth.evaluate.textmetrics import text_breakdown
from tuneworth.judge.judge import judge_counts
from tuneworth.stats.intervals import LEVEL, mean_interval, wilson
from tuneworth.stats.percentile import percentile


def summarize(
    name: str, title: str, config: dict[str, Any], items: Sequence[dict[str, Any]], metric: str, seed: int
) -> dict[str, Any]:
    """Summary row for one rung from its test-phase item dicts (as written to items.jsonl)."""
    scored = [r for r in items if r.get("error") is None and r.get("score") is not None]
    values = [float(r["score"]) for r in scored]
    n = len(values)
    ci = mean_interval(values, binary=metric in BINARY, seed=seed)
    lat = [float(r["latency_ms"]) for r in items]
    ok = [r for r in items if r.get("error") is None]
    return {
        "name": name,
        "title": title,
        "config": config,
        "metric": metric,
        "n": n,
        "score": sum(values) / n if n else None,
        "interval": ci.as_record() if n else None,
        # The same bounds flat, for readers of the version-1 row shape (the typed row derives them).
        "ci_low": ci.low if n else None,
        "ci_high": ci.high if n else None,
        "validity_rate": sum(1 for r in scored if r.get("valid")) / n if n else None,
        "latency_p50_ms": round(percentile(lat, 50), 1),
        "latency_p95_ms": round(percentile(lat, 95), 1),
        "prompt_tokens_mean": round(sum(r["prompt_tokens"] for r in ok) / len(ok), 1) if ok else None,
        "completion_tokens_mean": round(sum(r["completion_tokens"] for r in ok) / len(ok), 1) if ok else None,
        "errors": len(items) - len(ok),
        "metrics": {**breakdown(scored), **judge_counts([r["details"]["judge"] for r in ok if "judge" in (r.get("details") or {})])},
        "decoding": decoding_of(items),
        **pass_rate(scored),
    }


def pass_rate(scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pass rate (Wilson interval) where items carry a pass/fail against ``scoring.pass_threshold``."""
    passes = [bool(r["details"]["pass"]) for r in scored if "pass" in (r.get("details") or {})]
    if not passes:
        return {}
    lo, hi = wilson(sum(passes), len(passes))
    interval = {"lo": lo, "hi": hi, "level": LEVEL, "method": "wilson"}
    return {"pass_rate": sum(passes) / len(passes), "pass_interval": interval}


def decoding_of(items: Sequence[dict[str, Any]]) -> str:
    """The decoding the items used: the common one, or ``a+b`` (most used first) when they differ."""
    counts: dict[str, int] = {}
    for r in items:
        d = str(r.get("decoding") or "free")
        counts[d] = counts.get(d, 0) + 1
    return "+".join(sorted(counts, key=lambda d: -counts[d])) or "free"


def breakdown(scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Secondary metrics from item details: JSON parse/schema/object/per-field rates, unparseable labels."""
    n = len(scored)
    if not n:
        return {}
    details = [r.get("details") or {} for r in scored]
    out: dict[str, Any] = {}
    if any("fields" in d for d in details):
        out["parse_rate"] = sum(1 for d in details if d.get("parsed")) / n
        out["schema_valid_rate"] = sum(1 for d in details if d.get("schema_valid")) / n
        out["object_match_rate"] = sum(1 for d in details if d.get("object_match")) / n
        names = sorted({f for d in details for f in d.get("fields", {})})
        out["field_accuracy"] = {f: sum(1 for d in details if d.get("fields", {}).get(f)) / n for f in names}
    if any("unparseable" in d for d in details):
        out["unparseable"] = sum(1 for d in details if d.get("unparseable"))
    if any("normalized" in d for d in details):
        out["exact_rate"] = sum(1 for d in details if d.get("exact")) / n
        out["normalized_rate"] = sum(1 for d in details if d.get("normalized")) / n
    out.update(text_breakdown(details))
    return out
