"""The ``statistics`` section: per-rung intervals and paired comparisons, from the run record alone.

Every rung is scored on the same test items (ids shared across rungs), so comparisons are paired:
each rung against the best cheaper rung (the highest-scoring rung below it on the ladder), with
exact McNemar for pass/fail scores and a paired bootstrap for continuous ones, Holm-corrected
across all comparisons. Each comparison also carries its power side: the smallest gain this test
size can detect and the test size a gain of ``min_gain`` would need, so "no significant gain" is
told apart from "too small to tell".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.evaluate.metrics import BINARY
from tuneworth.record.derived import Comparison, RungStatistics, Statistics
from tuneworth.record.schema import ItemResult, Summary, SummaryRow
from tuneworth.stats.intervals import METHOD_TEXT
from tuneworth.stats.paired import (
    MCNEMAR_P_RESOLUTION,
    format_p,
    holm,
    mcnemar_exact,
    mde_continuous,
    min_detectable_effect,
    paired_bootstrap,
    required_n_continuous,
    required_pairs,
)


def ladder(rows: Sequence[SummaryRow]) -> list[SummaryRow]:
    """Rows in ladder order (the rungs' ``order``, cheapest first; ties keep the given order)."""
    return sorted(rows, key=lambda r: r.order)


def test_scores(items: Sequence[ItemResult]) -> dict[str, dict[str, float]]:
    """rung -> {item_id: score} for scored test items (errors are never scored as wrong answers)."""
    out: dict[str, dict[str, float]] = {}
    for it in items:
        if it.phase != "test" or it.error is not None or it.score is None:
            continue
        out.setdefault(it.rung, {})[it.item_id] = float(it.score)
    return out


def compare(
    a: Sequence[float], b: Sequence[float], *, binary: bool, min_gain: float, alpha: float, power: float
) -> dict[str, Any]:
    """Paired comparison of b against a (same items, same order): difference, interval, p, power."""
    import numpy as np

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(x)
    out: dict[str, Any] = {"n_pairs": n, "diff": 0.0}
    if n == 0:
        out.update(ci_low=None, ci_high=None, p=1.0, p_resolution=0.0, test="none", mde=None, required_n=None)
        return out
    boot = paired_bootstrap(list(x), list(y))
    diff = boot.diff
    out.update(diff=diff, ci_low=boot.low, ci_high=boot.high)
    if binary:
        only_a = int(((x >= 0.5) & (y < 0.5)).sum())
        only_b = int(((y >= 0.5) & (x < 0.5)).sum())
        disc = (only_a + only_b) / n
        out.update(test="mcnemar-exact", only_baseline=only_a, only_this=only_b, discordant_rate=disc)
        out["p"], out["p_resolution"] = mcnemar_exact(only_a, only_b), MCNEMAR_P_RESOLUTION
        # The power formulas need a discordant rate; with none observed, assume the smallest that
        # allows a gain of min_gain (a lower bound on the items needed).
        rate = max(disc, 2 * min_gain)
        mde = min_detectable_effect(n, min(1.0, rate), alpha=alpha, power=power)
        out["mde"] = None if mde == float("inf") else mde  # None: no gain is detectable (JSON has no inf)
        out["required_n"] = required_pairs(min(1.0, rate), min_gain, alpha=alpha, power=power)
        if diff > 0:
            out["required_n_observed"] = required_pairs(max(disc, diff), diff, alpha=alpha, power=power)
    else:
        out.update(test="paired-bootstrap", p=boot.p, p_resolution=boot.p_resolution)
        sd = float((y - x).std(ddof=1)) if n > 1 else 0.0
        out["sd_diff"] = sd
        sd_used = max(sd, min_gain)  # identical outputs give sd 0; assume at least min_gain of spread
        out["mde"] = mde_continuous(sd_used, n, alpha=alpha, power=power)
        out["required_n"] = required_n_continuous(sd_used, min_gain, alpha=alpha, power=power)
        if diff > 0:
            out["required_n_observed"] = required_n_continuous(max(sd, diff), diff, alpha=alpha, power=power)
    return out


def verdict(c: Comparison, *, alpha: float, min_gain: float) -> str:
    """better / worse / no meaningful difference / too small to tell (after Holm)."""
    p = c.p_holm if c.p_holm is not None else c.p
    if c.n_pairs == 0:
        return "too small to tell"
    if p < alpha:
        return "better" if c.diff > 0 else "worse"
    if c.ci_low is not None and c.ci_high is not None and c.ci_low > -min_gain and c.ci_high < min_gain:
        return "no meaningful difference"
    return "too small to tell"


def rung_statistics(row: SummaryRow, binary: bool) -> RungStatistics:
    """A rung's score and the interval stored on its row (computed once, by ``summarize``)."""
    ci = row.interval
    return RungStatistics(
        n=row.n,
        score=row.score,
        ci_low=ci.lo if ci else None,
        ci_high=ci.hi if ci else None,
        method=ci.method if ci else ("wilson" if binary else "bootstrap"),
        half_width=(ci.hi - ci.lo) / 2 if ci else None,
    )


def build_statistics(
    summary: Summary, items: Sequence[ItemResult], *, min_gain: float, alpha: float, power: float
) -> Statistics:
    """The record's ``statistics`` section: each rung against its best cheaper rung, Holm-corrected."""
    binary = summary.metric in BINARY
    scores = test_scores(items)
    order = ladder(summary.rungs)
    comparisons: list[Comparison] = []
    for i, row in enumerate(order):
        cheaper = [r for r in order[:i] if r.score is not None]
        if not cheaper or row.score is None:
            continue
        base = max(cheaper, key=lambda r: r.score or 0.0)
        mine, theirs = scores.get(row.name, {}), scores.get(base.name, {})
        ids = sorted(set(mine) & set(theirs))
        fields = compare([theirs[k] for k in ids], [mine[k] for k in ids], binary=binary, min_gain=min_gain, alpha=alpha, power=power)
        comparisons.append(Comparison(rung=row.name, baseline=base.name, **fields))
    for c, p in zip(comparisons, holm([c.p for c in comparisons]), strict=True):
        c.p_holm = p
        c.p_holm_resolution = min(1.0, len(comparisons) * c.p_resolution)
        c.verdict = verdict(c, alpha=alpha, min_gain=min_gain)
        c.text = describe(c, min_gain=min_gain)
    return Statistics(
        metric=summary.metric,
        binary=binary,
        alpha=alpha,
        power=power,
        min_gain=min_gain,
        n_test=max((r.n for r in order), default=0),
        interval=METHOD_TEXT["wilson" if binary else "bootstrap"],
        rungs={r.name: rung_statistics(r, binary) for r in order},
        comparisons=comparisons,
    )


def describe(c: Comparison, *, min_gain: float) -> str:
    """One plain sentence for a comparison."""
    head = f"{c.rung} vs {c.baseline}: {100 * c.diff:+.1f} points"
    if c.ci_low is not None and c.ci_high is not None:
        head += f" [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]"
    head += f" on {c.n_pairs} paired items, {c.test} {p_text(c)} (Holm {p_text(c, adjusted=True)})"
    v = c.verdict
    if v == "better":
        return f"{head}: a significant gain."
    if v == "worse":
        return f"{head}: significantly worse."
    if v == "no meaningful difference":
        return f"{head}: no gain of {100 * min_gain:.0f}+ points (the interval rules it out)."
    mde_txt = "no gain at all" if c.mde is None or c.mde >= 1 else f"gains of {100 * c.mde:.0f}+ points"
    return (
        f"{head}: too small to tell; this test size detects only {mde_txt}, "
        f"{c.required_n} paired items would detect {100 * min_gain:.0f} points."
    )


def p_text(c: Comparison, *, adjusted: bool = False) -> str:
    """A comparison's p-value as printed ("p=0.031", "p < 1e-10"), raw or Holm-adjusted."""
    if adjusted and c.p_holm is not None:
        return format_p(c.p_holm, c.p_holm_resolution)
    return format_p(c.p, c.p_resolution)
