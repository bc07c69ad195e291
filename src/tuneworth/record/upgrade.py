"""Reading version-1 run records (everything written before the typed record) as version 2.

Version 1 had the same files and mostly the same fields; what changed:

* a summary row's interval was ``ci_low``/``ci_high`` (and ``pass_ci_low``/``pass_ci_high``); it is
  now one ``Interval`` with its method. Version 1 always used ``stats.score_ci``: Wilson for the
  pass/fail metrics below, a seeded percentile bootstrap otherwise, at 95 %;
* rung metadata (what a rung fixes, whether it trains, its cost class, its ladder position) was not
  stored; readers tested rung names. Version 1 only ever had the four built-in rungs, so their
  metadata is filled in here, the one place that still knows them by name; L3 fixes knowledge only
  when the run retrieved documents.

Upgrading works on the parsed JSON (dicts) before validation, so a v1 file is checked by the same
models as a v2 one.
"""

from __future__ import annotations

from typing import Any

from tuneworth.record.schema import SCHEMA_VERSION

# What version 1 wrote (rungs/*.py and evaluate/metrics.BINARY at the time): fixed history, not config.
V1_RUNGS: dict[str, dict[str, Any]] = {
    "L1": {"fixes": "behaviour", "trains": False, "cost_class": "prompt", "order": 1},
    "L2": {"fixes": "behaviour", "trains": False, "cost_class": "prompt", "order": 2},
    "L3": {"fixes": "behaviour", "trains": False, "cost_class": "retrieval", "order": 3},
    "L4": {"fixes": "behaviour", "trains": True, "cost_class": "training", "order": 4},
}
V1_BINARY = frozenset({"exact", "normalized", "accuracy", "object_match"})


def _meta(name: str, retrieval: Any) -> dict[str, Any]:
    meta = dict(V1_RUNGS.get(name, {"order": len(V1_RUNGS) + 1}))
    if meta.get("cost_class") == "retrieval" and isinstance(retrieval, dict):
        meta["fixes"] = "knowledge" if retrieval.get("mode") == "documents" else "behaviour"
    return meta


def _interval(lo: Any, hi: Any, method: str) -> dict[str, Any] | None:
    if lo is None or hi is None:
        return None
    return {"lo": float(lo), "hi": float(hi), "level": 0.95, "method": method}


def _method(metric: Any) -> str:
    return "wilson" if metric in V1_BINARY else "bootstrap"


def upgrade_row(row: dict[str, Any], retrieval: Any) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("ci_low", "ci_high", "pass_ci_low", "pass_ci_high")}
    out["interval"] = _interval(row.get("ci_low"), row.get("ci_high"), _method(row.get("metric")))
    if "pass_rate" in row:
        out["pass_interval"] = _interval(row.get("pass_ci_low"), row.get("pass_ci_high"), "wilson")
    return {**_meta(str(row.get("name")), retrieval), **out}


def upgrade_training(training: Any, metric: Any) -> Any:
    """The learning curve's points carried ``ci_low``/``ci_high`` (``score_ci``, as the rows)."""
    if not isinstance(training, dict) or not isinstance(training.get("learning_curve"), list):
        return training
    points = []
    for p in training["learning_curve"]:
        if isinstance(p, dict) and ("ci_low" in p or "ci_high" in p):
            p = {k: v for k, v in p.items() if k not in ("ci_low", "ci_high")}
            p["interval"] = _interval(p.get("ci_low"), p.get("ci_high"), _method(metric))
        points.append(p)
    return {**training, "learning_curve": points}


def upgrade_header(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 ``record.json`` as version 2."""
    out = dict(data)
    out["schema_version"] = SCHEMA_VERSION
    retrieval = data.get("retrieval")
    rungs = data.get("rungs")
    if isinstance(rungs, dict):
        out["rungs"] = {
            name: {**_meta(name, retrieval), "title": "", **r} if isinstance(r, dict) else r
            for name, r in rungs.items()
        }
    if "training" in data:
        out["training"] = upgrade_training(data["training"], data.get("metric"))
    return out


def upgrade_item(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 ``items.jsonl`` line: the same fields."""
    return data


def upgrade_summary(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 ``summary.json`` as version 2."""
    out = dict(data)
    out["schema_version"] = SCHEMA_VERSION
    retrieval = data.get("retrieval")
    rows = data.get("rungs")
    if isinstance(rows, list):
        out["rungs"] = [upgrade_row(r, retrieval) if isinstance(r, dict) else r for r in rows]
    if "training" in data:
        out["training"] = upgrade_training(data["training"], data.get("metric"))
    return out
