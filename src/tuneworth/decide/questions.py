"""The five questions answered from a run record, each with the numbers behind it.

Sections written by other parts of tuneworth are read from the typed record when present and named
when absent: ``audit`` (status and checks), ``diagnosis`` (knowledge / behaviour / unfixed shares),
``training`` (learning_curve). Rungs are found by their metadata (``cost_class``, ``trains``), never
by name; the record's loader has already rejected any section of the wrong shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.decide.breakeven import fmt_volume
from tuneworth.decide.framework import Answer, Status
from tuneworth.record.derived import Comparison, Costs
from tuneworth.record.schema import RungRecord, RunHeader, SummaryRow, TrainingSection


def _cfg(c: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in c.items())


def prompting(header: RunHeader, min_gain: float) -> tuple[Answer, list[str]]:
    """Were the prompt-only rungs (``cost_class`` prompt: instructions, few-shot) tried?"""
    prompt_rungs = sorted(
        ((name, r) for name, r in header.rungs.items() if r.cost_class == "prompt"), key=lambda nr: nr[1].order
    )
    ev: list[str] = []
    changes: list[str] = []
    for name, info in prompt_rungs:
        best = max(info.validation, key=lambda c: c.score, default=None)
        ev.append(
            f"{name}: {len(info.validation)} configurations tried on validation"
            + (f", best {best.score:.3f} ({_cfg(best.config)})" if best else "")
        )
    sweeps = [(name, p) for name, r in prompt_rungs if (p := _plateau(name, r, min_gain))]
    state = ""
    if sweeps:
        _, (text, flat) = sweeps[-1]
        ev.append(text)
        state = ", plateaued" if flat else ", still rising"
        if not flat:
            changes.append(f"more demonstrations may still help: {sweeps[-1][0]} was still rising at its largest k")
    if len(prompt_rungs) >= 2:
        names = " and ".join(n for n, _ in prompt_rungs)
        counts = " + ".join(str(len(r.validation)) for _, r in prompt_rungs)
        return Answer("prompting", "yes", f"yes: {names} ({counts} configurations){state}", ev), changes
    missing = "instructions and few-shot demonstrations were not both run"
    return Answer("prompting", "no", f"not fully: {missing}", [*ev, missing]), changes


def _plateau(name: str, rung: RungRecord, min_gain: float) -> tuple[str, bool] | None:
    """('NAME validation k a->b: +x', plateaued) over the chosen selection's k sweep, if it swept k."""
    chosen = rung.chosen
    sweep = [
        c
        for c in rung.validation
        if isinstance(c.config.get("k"), int) and all(v == chosen.get(k) for k, v in c.config.items() if k != "k")
    ]
    sweep.sort(key=lambda c: c.config["k"])
    if len(sweep) < 2:
        return None
    a, b = sweep[-2], sweep[-1]
    gain = b.score - a.score
    flat = gain < min_gain
    word = "plateaued" if flat else "still rising"
    return f"{name} validation {word}: k={a.config['k']}→{b.config['k']} {gain:+.3f}", flat


def learning_curve(training: TrainingSection | None) -> list[tuple[float, float]]:
    """[(train fraction, test score)] from ``training.learning_curve``, sorted (skipped points left out)."""
    points = (training.learning_curve or []) if training else []
    return sorted((p.fraction, p.score) for p in points if p.score is not None and p.fraction > 0)


def judge_warnings(header: RunHeader) -> list[str]:
    """The judge's warnings (disagreeing with people, or never checked against them)."""
    return list(header.judge.warnings) if header.judge else []


def data(header: RunHeader, min_gain: float) -> tuple[Answer, list[str]]:
    n = header.data.sizes.get("train", 0)
    ev = [f"{n} training examples (OpenAI's minimum is 10; 50-100 is the least for a useful fine-tune)"]
    changes: list[str] = []
    audit = header.audit
    verdict: str | None = None
    if audit is not None:
        fails = [c.name for c in audit.checks if c.status.lower() == "fail"]
        warns = [c.name for c in audit.checks if c.status.lower() == "warn"]
        verdict = audit.status.lower() or ("fail" if fails else "warn" if warns else "pass" if audit.checks else None)
        ev.append(
            f"audit: {verdict or 'no verdict'}"
            + (f"; failed: {', '.join(fails)}" if fails else "")
            + (f"; warnings: {', '.join(warns)}" if warns else "")
        )
    else:
        ev.append("audit not run")
    curve = learning_curve(header.training)
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
        ev.append("no learning curve (fine-tune with the learning curve on: rungs.L4.learning_curve = true)")
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


def knowledge(header: RunHeader) -> Answer:
    diag = header.diagnosis
    if diag is None:
        return Answer(
            "knowledge", "unknown", "unknown: no knowledge-vs-behaviour diagnosis (retrieval not run)", ["diagnosis not run"]
        )
    share = {k: max(0.0, v or 0.0) for k, v in (diag.shares or {}).items()}
    k, b, u = (share.get(key, 0.0) for key in ("knowledge", "behaviour", "unfixed"))
    total = k + b + u
    if total <= 0:
        return Answer("knowledge", "unknown", "unknown: the diagnosis found no failures to classify", ["diagnosis empty"])
    ev = [
        f"failures: {k / total:.0%} knowledge (fixed by retrieval), {b / total:.0%} behaviour, {u / total:.0%} unfixed"
    ]
    if k > b:
        return Answer("knowledge", "no", "no: most failures are missing knowledge", ev)
    return Answer("knowledge", "yes", "yes: most fixable failures are behaviour", ev)


def significance(
    comparisons: Sequence[Comparison], tuned: SummaryRow | None, n_test: int, min_gain: float
) -> tuple[Answer, list[str]]:
    """Is the fine-tuned rung's gain over its best cheaper rung significant (after Holm)?"""
    c = next((c for c in comparisons if tuned is not None and c.rung == tuned.name), None)
    if c is None:
        return Answer("significance", "unknown", "unknown: fine-tuning not run", ["fine-tuning not run"]), [
            "measuring the fine-tuning rung (tuneworth climb TASK --rungs L4) against the same test items"
        ]
    ev = [c.text or ""]
    changes: list[str] = []
    v = c.verdict
    if v == "too small to tell":
        need = c.required_n_observed if c.diff > 0 else None
        if need and n_test:
            changes.append(
                f"{need / n_test:.1f}x the test items ({need}) would detect the observed {100 * c.diff:+.1f}-point gain"
            )
        if c.required_n and n_test:
            changes.append(
                f"{c.required_n / n_test:.1f}x the test items ({c.required_n}) would detect a {100 * min_gain:.0f}-point gain"
            )
    status: Status = (
        "yes" if v == "better" else "no" if v in ("worse", "no meaningful difference") else "unknown"
    )
    word = {"yes": "yes", "no": "no"}.get(status, "unknown")
    return Answer("significance", status, f"{word}: {v}", ev), changes


def volume(costs: Costs, requests: float | None) -> tuple[Answer, list[str]]:
    be = costs.break_even
    est = " (estimated: fine-tuning not run)" if costs.l4_estimated else ""
    if be is None:
        why = costs.break_even_missing or "no prices for these models"
        return Answer("volume", "unknown", f"unknown: {why}", [why]), []
    ev = [
        f"break-even{est}: never ({be.reason})"
        if be.never
        else f"break-even{est}: {fmt_volume(be.requests_per_month)} requests/month ({be.reason})"
    ]
    changes: list[str] = []
    if be.never:
        ev.append(f"expected volume: {fmt_volume(requests) if requests is not None else 'not given'}")
        changes.append(
            f"fine-tuning pays back only if it costs less per request than {costs.baseline} "
            "(shorter prompts, a cheaper model) or errors avoided are priced (economics.cost_per_error)"
        )
        return Answer(
            "volume", "no", "no: fine-tuning never pays back (it costs more per request)", ev
        ), changes
    v = be.requests_per_month or 0.0  # set whenever the break-even is not "never"
    if requests is None:
        changes.append(
            f"above {fmt_volume(v)} requests/month fine-tuning pays back within {be.payback_months:g} months"
        )
        return Answer(
            "volume", "unknown", f"unknown: set economics.requests_per_month (break-even {fmt_volume(v)})", ev
        ), changes
    ev.append(f"expected volume: {fmt_volume(requests)} requests/month")
    if requests >= v:
        changes.append(f"below {fmt_volume(v)} requests/month fine-tuning would not pay back")
        return Answer(
            "volume", "yes", f"yes: {fmt_volume(requests)} ≥ break-even {fmt_volume(v)}", ev
        ), changes
    changes.append(
        f"above {fmt_volume(v)} requests/month fine-tuning pays back within {be.payback_months:g} months"
    )
    return Answer("volume", "no", f"no: {fmt_volume(requests)} < break-even {fmt_volume(v)}", ev), changes
