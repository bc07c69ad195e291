"""The decision report as Markdown (report.md): the same content as the HTML, minus the charts."""

from __future__ import annotations

from typing import Any

from tuneworth.decide.breakeven import fmt_usd, fmt_volume
from tuneworth.record.schema import LoadedRun, Summary
from tuneworth.report.flips import Flips, flips_for_report, shorten
from tuneworth.report.format import config_text
from tuneworth.stats.intervals import interval_text

MAX_FLIPS = 10


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _flips_lines(flips: Flips) -> list[str]:
    out = ["", f"## Per-item flips: {flips.rung} against {flips.baseline}", ""]
    for kind, rows in (("fixed", flips.fixed), ("broken", flips.broken)):
        more = f" (first {MAX_FLIPS})" if len(rows) > MAX_FLIPS else ""
        out += [f"### {kind}: {len(rows)}{more}", ""]
        if not rows:
            continue
        out += [f"| item | input | gold | score | {flips.baseline} output | {flips.rung} output |", "|---|---|---|---|---|---|"]
        for r in rows[:MAX_FLIPS]:
            cells = [
                f"`{r.item_id}`",
                shorten(r.input, 80) if r.input is not None else "not in the record",
                shorten(r.gold, 80) if r.gold is not None else "—",
                f"{r.baseline_score:g} → {r.score:g}",
                shorten(r.baseline_output, 80),
                shorten(r.output, 80),
            ]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        out.append("")
    return out


def render_decision_markdown(run: LoadedRun, summary: Summary, flips: Flips | None = None) -> str:
    """report.md from the analysed summary (``decide.evidence.analysed``)."""
    d, stats, costs = summary.decision, summary.statistics, summary.costs
    if d is None or stats is None or costs is None:
        raise ValueError("render_decision_markdown needs the analysed summary (decide.evidence.analysed)")
    sizes = summary.sizes
    out = [
        f"# tuneworth report: {summary.task}",
        "",
        f"model `{summary.model}` · metric `{summary.metric}` · test {sizes.get('test')}, "
        f"validation {sizes.get('validation')}, train {sizes.get('train')}",
        "",
        f"**{d.verdict}**",
        "",
    ]
    if d.what_would_change:
        out += ["What would change the answer:", ""] + [f"- {c}" for c in d.what_would_change] + [""]
    if d.sections_missing:
        out += [f"Not in this run: {', '.join(d.sections_missing)}.", ""]
    out += ["## The five questions", "", "| question | answer | the numbers behind it |", "|---|---|---|"]
    for q in d.questions:
        out.append(f"| {_cell(q.question)} | {_cell(q.answer)} | {_cell('; '.join(q.evidence))} |")
    by_cost = {c.rung: c for c in costs.rungs}
    out += ["", "## Scores per rung", "", "| rung | chosen | score [95% CI] | n | valid | $ per 1k requests |", "|---|---|---|---|---|---|"]
    for r in summary.rungs:
        score = interval_text(r.score, r.ci_low, r.ci_high)  # the row's stored interval
        c = by_cost.get(r.name)
        usd = c.usd_per_1k if c else None
        valid = "n/a" if r.validity_rate is None else f"{r.validity_rate:.0%}"
        out.append(
            f"| {r.title or r.name} | {_cell(config_text(r.config))} | {score} | {r.n} | {valid} | "
            + ("no price" if usd is None else f"${usd:.4f}")
            + " |"
        )
    out += ["", "## Is each gain real?", ""] + [f"- {c.text}" for c in stats.comparisons]
    if not stats.comparisons:
        out.append("- only one rung was scored")
    f = costs.finetune
    out += [
        "",
        "## Costs and break-even",
        "",
        f"- fine-tuning fixed costs: {fmt_usd(f.total_usd.low)}-{fmt_usd(f.total_usd.high)} "
        f"(compute {f.compute_basis}; {f.human_hours.low:g}-{f.human_hours.high:g} h x ${f.human_hourly_rate:g})",
    ]
    be = costs.break_even
    if be is not None:
        est = " (estimated: fine-tuning not run)" if costs.l4_estimated else ""
        out.append(f"- break-even{est} against {costs.baseline}: {fmt_volume(be.requests_per_month)} requests/month; {be.reason}")
    else:
        out.append(f"- no break-even: {costs.break_even_missing}")
    out.append(f"- prices as of {costs.prices.as_of}")
    flips = flips if flips is not None else flips_for_report(run, stats)
    if flips is not None:
        out += _flips_lines(flips)
    out.append("")
    return "\n".join(out)
