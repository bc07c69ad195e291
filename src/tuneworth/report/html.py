"""The single-file HTML report: the verdict first, then the evidence behind it.

One self-contained file: inline CSS and inline SVG charts, no script, nothing fetched at view
time. Every number comes from the typed run record (the summary rows, with the interval stored on each,
and the ``statistics``, ``costs`` and ``decision`` sections), so a past run renders the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from tuneworth.decide.breakeven import fmt_usd, fmt_volume
from tuneworth.decide.questions import learning_curve
from tuneworth.decide.statistics import p_text
from tuneworth.record.derived import Costs, Decision, Statistics
from tuneworth.record.schema import AuditSection, LoadedRun, Summary
from tuneworth.report import charts
from tuneworth.report.flips import Flips, flips_for_report, shorten
from tuneworth.report.format import config_text
from tuneworth.stats.intervals import interval_text

MAX_FLIPS = 40

CSS = """
body{font:14px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2330;max-width:980px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e3e6ec;padding-bottom:4px}
.meta{color:#5b6475}.verdict{border-radius:8px;padding:14px 18px;margin:16px 0;border-left:6px solid}
.verdict p{margin:4px 0}.verdict .big{font-size:18px;font-weight:600}
.v-yes{background:#eaf6ee;border-color:#2e8b57}.v-no{background:#fdf0ef;border-color:#c44e52}
.v-not-yet,.v-try{background:#fff8e6;border-color:#d9a21b}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid #e3e6ec;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f6f9;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.s-yes,.s-pass{color:#2e8b57;font-weight:600}.s-no,.s-fail{color:#c44e52;font-weight:600}.s-unknown,.s-warn{color:#b7860b;font-weight:600}
pre{background:#f5f6f9;padding:10px;overflow:auto;font-size:12px}code{font-size:12px}
.chart{max-width:100%;height:auto}ul{margin:4px 0;padding-left:20px}.muted{color:#5b6475}
td.out{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;max-width:380px;word-break:break-word}
"""


def _e(x: Any) -> str:
    return escape(str(x), quote=True)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _usd(x: float | None, digits: int = 4) -> str:
    return "no price" if x is None else f"${x:,.{digits}f}"


def _table(
    head: Sequence[str], rows: Sequence[Sequence[str]], num: Sequence[int] = (), out: Sequence[int] = ()
) -> str:
    """A table of already-escaped cells; ``num`` columns right-aligned, ``out`` columns as model text."""

    def cell(i: int, c: str) -> str:
        cls = "num" if i in num else "out" if i in out else ""
        return f'<td class="{cls}">{c}</td>' if cls else f"<td>{c}</td>"

    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _verdict(d: Decision) -> str:
    cls = "v-" + d.fine_tune.replace(" ", "-")
    label = {"yes": "fine-tune", "no": "do not fine-tune", "not yet": "not yet", "try": "try fine-tuning"}[d.fine_tune]
    change = "".join(f"<li>{_e(c)}</li>" for c in d.what_would_change)
    missing = ", ".join(d.sections_missing)
    return (
        f'<section id="verdict" class="verdict {cls}"><p class="big">{_e(d.verdict)}</p>'
        f"<p>Fine-tuning: <b>{_e(label)}</b>"
        + (f" · stop at <b>{_e(d.stop_at)}</b>" if d.stop_at else "")
        + "</p>"
        + "".join(f'<p class="s-warn">Warning: {_e(w)}</p>' for w in d.warnings[1:])
        + (f"<p>What would change the answer:</p><ul>{change}</ul>" if change else "")
        + (f'<p class="muted">Not in this run: {_e(missing)}.</p>' if missing else "")
        + "</section>"
    )


def _questions(d: Decision) -> str:
    rows = []
    for q in d.questions:
        ev = "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in q.evidence) + "</ul>"
        rows.append([_e(q.question), f'<span class="s-{q.status}">{_e(q.answer)}</span>', ev])
    return "<h2>The five questions</h2>" + _table(["question", "answer", "the numbers behind it"], rows)


def _rungs(summary: Summary, costs: Costs) -> str:
    by_rung = {c.rung: c for c in costs.rungs}
    rows = []
    for r in summary.rungs:
        c = by_rung.get(r.name)
        priced = f'<br><span class="muted">{_e(c.priced_as)}</span>' if c and c.priced_as else ""
        rows.append(
            [
                _e(r.title or r.name),
                _e(config_text(r.config)),
                interval_text(r.score, r.ci_low, r.ci_high),  # the row's stored interval
                str(r.n),
                _pct(r.validity_rate),
                f"{r.latency_p50_ms / 1000:.2f} / {r.latency_p95_ms / 1000:.2f} s",
                f"{r.prompt_tokens_mean or 0:.0f} / {r.completion_tokens_mean or 0:.1f}",
                _usd(c.usd_per_1k if c else None) + priced,
                str(r.errors),
            ]
        )
    head = ["rung", "chosen", "score [95% CI]", "n", "valid", "latency p50/p95", "tokens in/out", "$ per 1k requests", "errors"]
    return _table(head, rows, num=(2, 3, 4, 5, 6, 7, 8))


def _trade(summary: Summary, costs: Costs) -> str:
    """Score vs latency vs cost per 1k requests, each rung on its own model (costs.trade)."""
    points = costs.trade
    if not any(p.score is not None for p in points):
        return ""
    models = {p.model for p in points}
    which = ", ".join(f"{p.rung} {p.model}" for p in points)
    return (
        "<h2>The trade: score, latency and cost</h2>"
        + (f'<p class="muted">Each rung on its own model: {_e(which)}.</p>' if len(models) > 1 else "")
        + '<figure id="chart-trade">'
        + charts.trade_chart(points, summary.metric)
        + "</figure>"
    )


def _verdict_class(verdict: str | None) -> str:
    return "yes" if verdict == "better" else "unknown" if verdict == "too small to tell" else "no"


def _comparisons(stats: Statistics) -> str:
    if not stats.comparisons:
        return "<p>Only one rung was scored: nothing to compare.</p>"
    rows = []
    for c in stats.comparisons:
        ci = f" [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]" if c.ci_low is not None and c.ci_high is not None else ""
        rows.append(
            [
                f"{_e(c.rung)} vs {_e(c.baseline)}",
                f"{100 * c.diff:+.1f}{ci}",
                _e(c.test),
                f"{_e(p_text(c))} / {_e(p_text(c, adjusted=True))}",
                "—" if c.mde is None or c.mde >= 1 else f"{100 * c.mde:.1f}",
                str(c.required_n if c.required_n is not None else ""),
                f'<span class="s-{_verdict_class(c.verdict)}">{_e(c.verdict)}</span>',
            ]
        )
    head = ["comparison", "gain, points [95% CI]", "paired test", "p / Holm", "detectable, points", f"items for {100 * stats.min_gain:.0f} points", "verdict"]
    return (
        _table(head, rows, num=(1, 3, 4, 5))
        + f'<p class="muted">Each rung against the best cheaper rung on the same {stats.n_test} test items; '
        f"intervals: {_e(stats.interval)}; Holm-corrected at α={stats.alpha}; power {stats.power:.0%}.</p>"
    )


def _break_even(costs: Costs) -> list[str]:
    be, f = costs.break_even, costs.finetune
    if be is None:
        return [f"<p>No break-even: {_e(costs.break_even_missing or 'no prices')}.</p>"]
    est = " (estimated: fine-tuning not run)" if costs.l4_estimated else ""
    rng = costs.break_even_range
    span = f" (range {fmt_volume(rng.low)}-{fmt_volume(rng.high)})" if rng and not be.never else ""
    parts = [
        f"<p>Break-even{est} against {_e(costs.baseline)}: <b>{_e(fmt_volume(be.requests_per_month))} requests/month</b>{span}; {_e(be.reason)}.</p>"
    ]
    base = next((c for c in costs.rungs if c.rung == costs.baseline), None)
    if base is not None and base.usd_per_1k is not None and costs.l4_usd_per_1k is not None and be.requests_per_month:
        tuned = (costs.l4_estimate.rung if costs.l4_estimate else next((c.rung for c in costs.rungs if c.fine_tuned), "fine-tuned"))
        lines = [
            (f"{base.rung} (best cheaper)", base.usd_per_1k / 1000, 0.0),
            (tuned + (" (estimated)" if costs.l4_estimated else ""), costs.l4_usd_per_1k / 1000, f.total_usd.mid),
        ]
        parts.append(
            '<figure id="chart-breakeven">'
            + charts.cost_chart(lines, be.requests_per_month, costs.requests_per_month, be.payback_months)
            + "</figure>"
        )
    return parts


def _costs(costs: Costs) -> str:
    f = costs.finetune
    hours = f.human_hours
    parts = [
        "<h2>Costs and break-even</h2>",
        "<p>Fixed costs of fine-tuning: "
        f"compute {_e(fmt_usd(f.compute_usd))} ({_e(f.compute_basis)}) + "
        f"{hours.low:g}-{hours.high:g} engineer hours x ${f.human_hourly_rate:g} = "
        f"<b>{fmt_usd(f.total_usd.low)}-{fmt_usd(f.total_usd.high)}</b> (middle {fmt_usd(f.total_usd.mid)}).</p>",
    ]
    parts += [f'<p class="muted">{_e(note)}</p>' for note in f.notes]
    parts += _break_even(costs)
    p = costs.prices
    parts.append(
        f'<p class="muted">Prices as of {_e(p.as_of)} (bundled table; override under [economics.prices]): '
        + ", ".join(_e(s) for s in p.sources)
        + (f"; overridden by the task file: {_e(', '.join(p.overridden))}" if p.overridden else "")
        + "</p>"
    )
    return "".join(parts)


def _audit(audit: AuditSection | None) -> str:
    if audit is None:
        return "<h2>Data audit</h2><p>Audit not run (run <code>tuneworth audit</code>, or climb runs it when available).</p>"
    rows = [[_e(c.name), f'<span class="s-{_e(c.status.lower())}">{_e(c.status)}</span>', _e(c.reason)] for c in audit.checks]
    return "<h2>Data audit</h2>" + (_table(["check", "status", "reason"], rows) if rows else "<p>The audit recorded no checks.</p>")


def _flips(f: Flips | None) -> str:
    if f is None:
        return ""
    out = [f"<h2>Per-item flips: {_e(f.rung)} against {_e(f.baseline)}</h2>"]
    for kind, flips in (("fixed", f.fixed), ("broken", f.broken)):
        rows = [
            [
                _e(r.item_id),
                _e(shorten(r.input)) if r.input is not None else '<span class="muted">not in the record</span>',
                _e(r.gold) if r.gold is not None else '<span class="muted">—</span>',
                f"{r.baseline_score:g} → {r.score:g}",
                _e(r.baseline_output),
                _e(r.output),
            ]
            for r in flips[:MAX_FLIPS]
        ]
        more = f" (first {MAX_FLIPS} of {len(flips)})" if len(flips) > MAX_FLIPS else ""
        out.append(f"<h3>{kind}: {len(flips)}{more}</h3>")
        if rows:
            head = ["item", "input", "gold", "score", f"{f.baseline} output", f"{f.rung} output"]
            out.append(_table(head, rows, out=(1, 2, 4, 5)))
    return "".join(out)


def render_html(run: LoadedRun, summary: Summary, flips: Flips | None = None) -> str:
    """The whole report as one HTML string (``summary`` with its statistics, costs and decision, as
    from ``decide.evidence.analysed``; ``flips`` as from ``flips_for_report``, computed when not given)."""
    header = run.header
    d, stats, costs = summary.decision, summary.statistics, summary.costs
    if d is None or stats is None or costs is None:
        raise ValueError("render_html needs the analysed summary (decide.evidence.analysed)")
    sizes = summary.sizes
    curve = learning_curve(header.training)
    body = [
        f"<h1>tuneworth: {_e(summary.task)}</h1>",
        f'<p class="meta">model <code>{_e(summary.model)}</code> · metric <code>{_e(summary.metric)}</code> · '
        f"test {sizes.get('test', '?')}, validation {sizes.get('validation', '?')}, train {sizes.get('train', '?')} · "
        f"seed {_e(header.seed)} · tuneworth {_e(header.tuneworth_version)}</p>",
        _verdict(d),
        _questions(d),
        "<h2>Scores per rung</h2>",
        '<figure id="chart-scores">' + charts.scores_chart(summary.rungs, summary.metric) + "</figure>",
        _rungs(summary, costs),
        _trade(summary, costs),
        "<h2>Is each gain real?</h2>",
        _comparisons(stats),
        _costs(costs),
        _audit(header.audit),
    ]
    if curve:
        body.append("<h2>Learning curve</h2>")
        body.append('<figure id="chart-curve">' + charts.curve_chart(curve, summary.metric) + "</figure>")
    body.append(_flips(flips if flips is not None else flips_for_report(run, stats)))
    body.append("<h2>Resolved configuration</h2>")
    body.append(f"<details><summary>task configuration as run</summary><pre>{_e(json.dumps(header.config, indent=2))}</pre></details>")
    title = f"tuneworth report: {summary.task}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
