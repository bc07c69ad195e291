"""The decision report as Markdown (report.md): the same content as the HTML, minus the charts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.decide.breakeven import fmt_usd, fmt_volume
from tuneworth.report.flips import flips_for_report
from tuneworth.report.format import config_text
from tuneworth.stats.intervals import interval_text


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def render_decision_markdown(
    header: dict[str, Any],
    items: Sequence[dict[str, Any]],
    summary: dict[str, Any],
    flips: dict[str, Any] | None = None,
) -> str:
    d, stats, costs = summary["decision"], summary["statistics"], summary["costs"]
    sizes = summary.get("sizes") or {}
    out = [
        f"# tuneworth report: {summary['task']}",
        "",
        f"model `{summary['model']}` · metric `{summary['metric']}` · test {sizes.get('test')}, "
        f"validation {sizes.get('validation')}, train {sizes.get('train')}",
        "",
        f"**{d['verdict']}**",
        "",
    ]
    if d.get("what_would_change"):
        out += ["What would change the answer:", ""] + [f"- {c}" for c in d["what_would_change"]] + [""]
    if d.get("sections_missing"):
        out += [f"Not in this run: {', '.join(d['sections_missing'])}.", ""]
    out += ["## The five questions", "", "| question | answer | the numbers behind it |", "|---|---|---|"]
    for q in d["questions"]:
        out.append(f"| {_cell(q['question'])} | {_cell(q['answer'])} | {_cell('; '.join(q['evidence']))} |")
    by_cost = {c["rung"]: c for c in costs["rungs"]}
    out += ["", "## Scores per rung", "", "| rung | chosen | score [95% CI] | n | valid | $ per 1k requests |", "|---|---|---|---|---|---|"]
    for r in summary["rungs"]:
        score = interval_text(r["score"], r.get("ci_low"), r.get("ci_high"))  # the row's stored interval
        usd = by_cost.get(r["name"], {}).get("usd_per_1k")
        valid = "n/a" if r.get("validity_rate") is None else f"{r['validity_rate']:.0%}"
        out.append(
            f"| {r['title']} | {_cell(config_text(r['config']))} | {score} | {r.get('n')} | {valid} | "
            + ("no price" if usd is None else f"${usd:.4f}")
            + " |"
        )
    out += ["", "## Is each gain real?", ""] + [f"- {c['text']}" for c in stats["comparisons"]]
    if not stats["comparisons"]:
        out.append("- only one rung was scored")
    f = costs["finetune"]
    out += [
        "",
        "## Costs and break-even",
        "",
        f"- fine-tuning fixed costs: {fmt_usd(f['total_usd']['low'])}-{fmt_usd(f['total_usd']['high'])} "
        f"(compute {f['compute_basis']}; {f['human_hours']['low']:g}-{f['human_hours']['high']:g} h x ${f['human_hourly_rate']:g})",
    ]
    be = costs.get("break_even")
    if be:
        est = " (estimated: L4 not run)" if costs.get("l4_estimated") else ""
        out.append(f"- break-even{est} against {costs.get('baseline')}: {fmt_volume(be['requests_per_month'])} requests/month; {be['reason']}")
    else:
        out.append(f"- no break-even: {costs.get('break_even_missing')}")
    out.append(f"- prices as of {costs['prices']['as_of']}")
    flips = flips if flips is not None else flips_for_report(header, items, stats)
    if flips:
        out += ["", f"## Per-item flips: {flips.get('rung')} against {flips.get('baseline')}", ""]
        for kind in ("fixed", "broken"):
            rows = flips.get(kind) or []
            out.append(f"- {kind}: {len(rows)}" + "".join(f"\n  - `{r.get('item_id')}`: {_cell(r.get('baseline_output', ''))[:80]} → {_cell(r.get('output', ''))[:80]}" for r in rows[:10]))
    out.append("")
    return "\n".join(out)
