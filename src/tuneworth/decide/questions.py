"""The five questions answered from a run record, each with the numbers behind it.

Sections written by other parts of tuneworth are read when present and named when absent:
``audit`` (verdict/status and checks), ``diagnosis`` (knowledge / behaviour / unfixed shares or
counts), ``training`` (trained_tokens, seconds, model_id, learning_curve). Readers are tolerant of
shape, because an answer must never crash a report; what they could not read, they say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.decide.breakeven import fmt_volume
from tuneworth.decide.costs import number, section
from tuneworth.decide.framework import Answer, Status


def _cfg(c: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in c.items())


def prompting(header: dict[str, Any], min_gain: float) -> tuple[Answer, list[str]]:
    rungs = header.get("rungs") or {}
    ev: list[str] = []
    changes: list[str] = []
    for name in ("L1", "L2"):
        info = rungs.get(name)
        if not info:
            ev.append(f"{name} not run")
            continue
        cands = info.get("validation") or []
        best = max(cands, key=lambda c: c["score"]) if cands else None
        ev.append(
            f"{name}: {len(cands)} configurations tried on validation"
            + (f", best {best['score']:.3f} ({_cfg(best['config'])})" if best else "")
        )
    plateau = _plateau((rungs.get("L2") or {}), min_gain)
    if plateau:
        ev.append(plateau[0])
        if not plateau[1]:
            changes.append("more demonstrations may still help: L2 was still rising at its largest k")
    if "L1" in rungs and "L2" in rungs:
        counts = " + ".join(str(len(rungs[n].get("validation") or [])) for n in ("L1", "L2"))
        state = "" if not plateau else (", plateaued" if plateau[1] else ", still rising")
        return Answer("prompting", "yes", f"yes: L1 and L2 ({counts} configurations){state}", ev), changes
    return Answer("prompting", "no", "not fully: " + "; ".join(e for e in ev if "not run" in e), ev), changes


def _plateau(l2: dict[str, Any], min_gain: float) -> tuple[str, bool] | None:
    """('validation k a->b: +x', plateaued) over the chosen selection's k sweep."""
    chosen = l2.get("chosen") or {}
    sweep = [
        c
        for c in l2.get("validation") or []
        if isinstance(c.get("config", {}).get("k"), int)
        and all(v == chosen.get(k) for k, v in c["config"].items() if k != "k")
    ]
    sweep.sort(key=lambda c: c["config"]["k"])
    if len(sweep) < 2:
        return None
    a, b = sweep[-2], sweep[-1]
    gain = b["score"] - a["score"]
    flat = gain < min_gain
    word = "plateaued" if flat else "still rising"
    return f"L2 validation {word}: k={a['config']['k']}→{b['config']['k']} {gain:+.3f}", flat


def _status_of(section: dict[str, Any]) -> str | None:
    for key in ("verdict", "status", "overall", "result"):
        v = section.get(key)
        if isinstance(v, str):
            return v.lower()
    return None


def audit_checks(audit: dict[str, Any]) -> list[dict[str, Any]]:
    """The audit's checks as [{name, status, reason}], whatever the container shape."""
    checks = audit.get("checks") or []
    if isinstance(checks, dict):
        checks = [{"name": k, **(v if isinstance(v, dict) else {"status": v})} for k, v in checks.items()]
    if not isinstance(checks, list):
        return []
    out = []
    for c in checks:
        if isinstance(c, dict):
            name = c.get("name") or c.get("id") or c.get("check") or "?"
            out.append(
                {
                    "name": str(name),
                    "status": str(c.get("status", "?")).lower(),
                    "reason": str(c.get("reason") or c.get("message") or ""),
                }
            )
    return out


def learning_curve(training: dict[str, Any]) -> list[tuple[float, float]]:
    """[(train fraction or size, test score)] from ``training.learning_curve``, sorted."""
    pts = []
    curve = training.get("learning_curve")
    for p in curve if isinstance(curve, list) else []:
        if not isinstance(p, dict):
            continue
        x = number(p.get("fraction", p.get("train_fraction", p.get("n_train"))))
        y = number(p.get("score", p.get("test_score")))
        if x is not None and y is not None and x > 0:
            pts.append((x, y))
    return sorted(pts)


def data(header: dict[str, Any], min_gain: float) -> tuple[Answer, list[str]]:
    n = ((header.get("data") or {}).get("sizes") or {}).get("train", 0)
    ev = [f"{n} training examples (OpenAI's minimum is 10; 50-100 is the least for a useful fine-tune)"]
    changes: list[str] = []
    audit = header.get("audit")
    verdict = _status_of(audit) if isinstance(audit, dict) else None
    if isinstance(audit, dict):
        checks = audit_checks(audit)
        fails = [c["name"] for c in checks if c["status"] == "fail"]
        warns = [c["name"] for c in checks if c["status"] == "warn"]
        verdict = verdict or ("fail" if fails else "warn" if warns else "pass" if checks else None)
        ev.append(
            f"audit: {verdict or 'no verdict'}"
            + (f"; failed: {', '.join(fails)}" if fails else "")
            + (f"; warnings: {', '.join(warns)}" if warns else "")
        )
    else:
        ev.append("audit not run")
    curve = learning_curve(section(header, "training"))
    rising = False
    if len(curve) >= 2:
        (x0, y0), (x1, y1) = curve[-2], curve[-1]
        rising = y1 - y0 >= min_gain
        ev.append(
            f"learning curve: {x0:g}→{x1:g} of train {y1 - y0:+.3f} ({'still rising' if rising else 'flat'})"
        )
        if rising:
            changes.append("more training data: the learning curve is still rising")
    else:
        ev.append("no learning curve (run L4 with the learning curve on)")
    if n < 10 or verdict == "fail":
        why = "fewer than 10 examples" if n < 10 else "the audit failed"
        changes.append("a passing data audit (tuneworth audit) and at least 50-100 clean examples")
        return Answer("data", "no", f"no: {why}", ev), changes
    if verdict in ("pass", "warn", "ok") and n >= 50:
        return Answer("data", "yes", f"yes: {n} examples, audit {verdict}", ev), changes
    if verdict is None:
        return Answer(
            "data", "unknown", f"unknown: {n} examples, quality unchecked (audit not run)", ev
        ), changes
    return Answer("data", "unknown", f"borderline: {n} examples, audit {verdict}", ev), changes


def knowledge(header: dict[str, Any]) -> Answer:
    diag = header.get("diagnosis")
    if not isinstance(diag, dict):
        return Answer(
            "knowledge", "unknown", "unknown: L3 not run, no knowledge-vs-behaviour diagnosis", ["L3 not run"]
        )
    shares = diag.get("shares")
    src: dict[str, Any] = shares if isinstance(shares, dict) else diag

    def get(*keys: str) -> float:
        return max(0.0, next((v for k in keys if (v := number(src.get(k))) is not None), 0.0))

    k, b, u = get("knowledge"), get("behaviour", "behavior"), get("unfixed")
    total = k + b + u
    if total <= 0:
        return Answer(
            "knowledge",
            "unknown",
            "unknown: the diagnosis found no failures to classify",
            ["diagnosis empty"],
        )
    ev = [
        f"failures: {k / total:.0%} knowledge (fixed by retrieval), {b / total:.0%} behaviour, {u / total:.0%} unfixed"
    ]
    if k > b:
        return Answer("knowledge", "no", "no: most failures are missing knowledge", ev)
    return Answer("knowledge", "yes", "yes: most fixable failures are behaviour", ev)


def significance(
    comparisons: Sequence[dict[str, Any]], n_test: int, min_gain: float
) -> tuple[Answer, list[str]]:
    c = next((c for c in comparisons if c["rung"] == "L4"), None)
    if c is None:
        return Answer("significance", "unknown", "unknown: L4 not run", ["L4 not run"]), [
            "measuring L4 (tuneworth climb TASK --rungs L4) against the same test items"
        ]
    ev = [c["text"]]
    changes: list[str] = []
    v = c["verdict"]
    if v == "too small to tell":
        need = c.get("required_n_observed") if c["diff"] > 0 else None
        if need and n_test:
            changes.append(
                f"{need / n_test:.1f}x the test items ({need}) would detect the observed {100 * c['diff']:+.1f}-point gain"
            )
        if c.get("required_n") and n_test:
            changes.append(
                f"{c['required_n'] / n_test:.1f}x the test items ({c['required_n']}) would detect a {100 * min_gain:.0f}-point gain"
            )
    status: Status = (
        "yes" if v == "better" else "no" if v in ("worse", "no meaningful difference") else "unknown"
    )
    word = {"yes": "yes", "no": "no"}.get(status, "unknown")
    return Answer("significance", status, f"{word}: {v}", ev), changes


def volume(costs: dict[str, Any], requests: float | None) -> tuple[Answer, list[str]]:
    be = costs.get("break_even")
    est = " (estimated: L4 not run)" if costs.get("l4_estimated") else ""
    if not be:
        why = costs.get("break_even_missing") or "no prices for these models"
        return Answer("volume", "unknown", f"unknown: {why}", [why]), []
    ev = [
        f"break-even{est}: never ({be['reason']})"
        if be["never"]
        else f"break-even{est}: {fmt_volume(be['requests_per_month'])} requests/month ({be['reason']})"
    ]
    changes: list[str] = []
    if be["never"]:
        ev.append(f"expected volume: {fmt_volume(requests) if requests is not None else 'not given'}")
        changes.append(
            f"L4 pays back only if it costs less per request than {costs.get('baseline')} "
            "(shorter prompts, a cheaper model) or errors avoided are priced (economics.cost_per_error)"
        )
        return Answer(
            "volume", "no", "no: fine-tuning never pays back (it costs more per request)", ev
        ), changes
    v = be["requests_per_month"]
    if requests is None:
        changes.append(
            f"above {fmt_volume(v)} requests/month L4 pays back within {be['payback_months']:g} months"
        )
        return Answer(
            "volume", "unknown", f"unknown: set economics.requests_per_month (break-even {fmt_volume(v)})", ev
        ), changes
    ev.append(f"expected volume: {fmt_volume(requests)} requests/month")
    if requests >= v:
        changes.append(f"below {fmt_volume(v)} requests/month L4 would not pay back")
        return Answer(
            "volume", "yes", f"yes: {fmt_volume(requests)} ≥ break-even {fmt_volume(v)}", ev
        ), changes
    changes.append(
        f"above {fmt_volume(v)} requests/month L4 pays back within {be['payback_months']:g} months"
    )
    return Answer("volume", "no", f"no: {fmt_volume(requests)} < break-even {fmt_volume(v)}", ev), changes
