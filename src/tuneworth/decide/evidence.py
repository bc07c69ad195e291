"""From a run record to its ``statistics``, ``costs`` and ``decision`` sections.

``analyse(header, items, summary)`` reads only the record (so ``tuneworth report`` and
``tuneworth decide RUN_DIR`` re-derive the decision from any past run) and takes optional
economics overrides (``decide RUN_DIR --requests-per-month``) without touching the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.decide import questions
from tuneworth.decide.breakeven import break_even, fmt_volume
from tuneworth.decide.costs import finetune_fixed, rung_cost, section
from tuneworth.decide.framework import Evidence, decide
from tuneworth.decide.prices import load_prices
from tuneworth.decide.statistics import build_statistics, ladder_order
from tuneworth.decide.trade import trade_points
from tuneworth.stats.intervals import interval_text

DEFAULT_DECISION = {"min_gain": 0.03, "alpha": 0.05, "power": 0.8}


def settings(
    header: dict[str, Any], overrides: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(economics, decision) from the record's resolved config, with ``overrides`` for economics."""
    config = header.get("config") or {}
    economics = dict(config.get("economics") or {})
    economics.update({k: v for k, v in (overrides or {}).items() if v is not None})
    decision = {**DEFAULT_DECISION, **(config.get("decision") or {})}
    return economics, decision


def build_costs(
    header: dict[str, Any],
    items: Sequence[dict[str, Any]],
    summary: dict[str, Any],
    statistics: dict[str, Any],
    economics: dict[str, Any],
) -> dict[str, Any]:
    """The record's ``costs`` section: per-rung cost per 1k, fine-tuning's fixed costs, break-even."""
    table = load_prices(economics)
    rows = summary.get("rungs") or []
    per_rung = [rung_cost(r, header, items, table, economics) for r in rows]
    by_name = {c["rung"]: c for c in per_rung}
    fixed = finetune_fixed(header, rows, table, economics)
    out: dict[str, Any] = {
        "prices": table.to_dict(),
        "rungs": per_rung,
        "finetune": fixed,
        "requests_per_month": economics.get("requests_per_month"),
        "payback_months": float(economics.get("payback_months") or 12.0),
    }
    stat_rungs = statistics["rungs"]
    cheaper = [
        n for n in ladder_order(list(by_name)) if n != "L4" and stat_rungs.get(n, {}).get("score") is not None
    ]
    if not cheaper:
        out["break_even_missing"] = "no scored rung below L4"
        return out
    baseline = max(cheaper, key=lambda n: stat_rungs[n]["score"])
    out["baseline"] = baseline
    base_cost = by_name[baseline]["usd_per_1k"]
    if "L4" in by_name:
        tuned_cost = by_name["L4"]["usd_per_1k"]
        gain = (stat_rungs.get("L4", {}).get("score") or 0) - stat_rungs[baseline]["score"]
        out["l4_estimated"] = False
    else:
        # Not run: a fine-tuned model gets L1's short prompt and answers like the best cheaper
        # rung (the behaviour it is trained on), at fine-tuned prices.
        l1 = next((r for r in rows if r["name"] == "L1"), None)
        base_row = next(r for r in rows if r["name"] == baseline)
        est = (
            rung_cost(
                {**l1, "name": "L4", "completion_tokens_mean": base_row.get("completion_tokens_mean")},
                header, items, table, economics, timing_from="L1",
            )
            if l1
            else None
        )
        tuned_cost = est["usd_per_1k"] if est else None
        gain = None
        out["l4_estimated"] = True
        out["l4_estimate"] = est
    if base_cost is None or tuned_cost is None:
        out["break_even_missing"] = "no price for " + ("the cheaper rung" if base_cost is None else "L4")
        return out
    payback = float(economics.get("payback_months") or 12.0)
    out["l4_usd_per_1k"] = tuned_cost
    out["break_even"] = break_even(
        fixed["total_usd"]["mid"],
        tuned_cost / 1000,
        base_cost / 1000,
        payback_months=payback,
        score_gain=gain,
        cost_per_error=economics.get("cost_per_error"),
    )
    out["break_even_range"] = {
        k: break_even(
            v,
            tuned_cost / 1000,
            base_cost / 1000,
            payback_months=payback,
            score_gain=gain,
            cost_per_error=economics.get("cost_per_error"),
        )["requests_per_month"]
        for k, v in fixed["total_usd"].items()
    }
    return out


def stop_rung(statistics: dict[str, Any]) -> str | None:
    """The highest rung below L4 that significantly beat its best cheaper rung, else the first rung."""
    order = [n for n in statistics["rungs"] if n != "L4" and statistics["rungs"][n]["score"] is not None]
    if not order:
        return None
    stop = order[0]
    for c in statistics["comparisons"]:
        if c["rung"] != "L4" and c["verdict"] == "better":
            stop = c["rung"]
    return stop


def analyse(
    header: dict[str, Any],
    items: Sequence[dict[str, Any]],
    summary: dict[str, Any],
    *,
    economics_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """{"statistics", "costs", "decision"} for a run record."""
    economics, dec = settings(header, economics_overrides)
    stats = build_statistics(summary, items, min_gain=dec["min_gain"], alpha=dec["alpha"], power=dec["power"])
    costs = build_costs(header, items, summary, stats, economics)
    costs["trade"] = trade_points(summary.get("rungs") or [], costs["rungs"])
    requests = economics.get("requests_per_month")
    q1, ch1 = questions.prompting(header, dec["min_gain"])
    q2, ch2 = questions.data(header, dec["min_gain"])
    q3, ch3 = questions.volume(costs, requests)
    q4, ch4 = questions.significance(stats["comparisons"], stats["n_test"], dec["min_gain"])
    q5 = questions.knowledge(header)
    stop = stop_rung(stats)
    titles = {r["name"]: r.get("title", r["name"]) for r in summary.get("rungs") or []}
    be = (costs.get("break_even") or {}).get("requests_per_month")
    evidence = Evidence(
        answers={a.key: a for a in (q1, q2, q3, q4, q5)},
        stop_rung=stop,
        stop_title=titles.get(stop or "", stop),
        l4_ran="L4" in stats["rungs"] and stats["rungs"]["L4"]["score"] is not None,
        break_even=fmt_volume(be) if be is not None else None,
        never_pays_back=bool((costs.get("break_even") or {}).get("never")),
        changes=ch4
        + ch3
        + ch2
        + ch1
        + (["failures that retrieval does not fix"] if q5.status == "no" else []),
    )
    decision = decide(evidence).to_dict()
    # Each rung's score with the interval stored on its summary row (the same text every view prints).
    decision["scores"] = [
        f"{r.get('title', r['name'])}: {interval_text(r.get('score'), r.get('ci_low'), r.get('ci_high'))}"
        for r in summary.get("rungs") or []
    ]
    # A judge that disagrees with people (or was never checked against them) is said in the verdict.
    warnings = [w for w in section(header, "judge").get("warnings") or [] if isinstance(w, str)]
    decision["warnings"] = warnings
    if warnings:
        decision["verdict"] += f" Warning: {warnings[0]}."
    decision["sections_missing"] = [
        label
        for key, label in (
            ("audit", "audit not run"),
            ("diagnosis", "L3 diagnosis not run"),
            ("training", "L4 not run"),
        )
        if not header.get(key)
    ]
    return {"statistics": stats, "costs": costs, "decision": decision}
