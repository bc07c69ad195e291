"""From a run record to its ``statistics``, ``costs`` and ``decision`` sections.

``analyse(run)`` reads only the typed record (so ``tuneworth report`` and ``tuneworth decide RUN_DIR``
re-derive the decision from any past run) and takes optional economics overrides
(``decide RUN_DIR --requests-per-month``) without touching the record. Rungs are told apart by their
metadata on the summary rows (``trains``, ``order``), never by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneworth.config.task import DecisionConfig, EconomicsConfig
from tuneworth.decide import questions
from tuneworth.decide.breakeven import break_even, fmt_volume
from tuneworth.decide.costs import (
    estimate_trained_tokens,
    finetune_fixed,
    row_cost,
    rung_cost,
    rung_model,
    seconds_per_request,
)
from tuneworth.decide.framework import Evidence, decide
from tuneworth.decide.prices import load_prices
from tuneworth.decide.statistics import build_statistics, ladder
from tuneworth.decide.trade import trade_points
from tuneworth.errors import ConfigError
from tuneworth.record.derived import Analysis, BreakEven, Costs, PricesInfo, Statistics, VolumeSpan
from tuneworth.record.schema import LoadedRun, RunHeader, Summary, SummaryRow
from tuneworth.stats.intervals import interval_text


def settings(header: RunHeader, overrides: dict[str, Any] | None = None) -> tuple[EconomicsConfig, DecisionConfig]:
    """(economics, decision) from the record's resolved config, with ``overrides`` for economics."""
    from pydantic import ValidationError

    economics = dict(header.config.get("economics") or {})
    economics.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return EconomicsConfig.model_validate(economics), DecisionConfig.model_validate(header.config.get("decision") or {})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"the run's economics/decision settings: {where}: {first['msg']}", hint="check [economics] in the task file, or the option given") from None


def training_row(rows: Sequence[SummaryRow]) -> SummaryRow | None:
    """The rung that fine-tunes (``trains``), if it ran."""
    return next((r for r in rows if r.trains), None)


def base_row(rows: Sequence[SummaryRow]) -> SummaryRow | None:
    """The cheapest rung on the ladder: the plain instruction a fine-tuned model is prompted with."""
    return min(rows, key=lambda r: r.order, default=None)


def build_costs(run: LoadedRun, summary: Summary, economics: EconomicsConfig) -> Costs:
    """The record's ``costs`` section: per-rung cost per 1k, fine-tuning's fixed costs, break-even."""
    header, items, rows = run.header, run.items, summary.rungs
    table = load_prices(economics.model_dump())
    per_rung = [row_cost(r, header, items, table, economics) for r in rows]
    by_name = {c.rung: c for c in per_rung}
    tuned_row, first = training_row(rows), base_row(rows)
    training = header.training
    fixed = finetune_fixed(
        header.model.spec,
        trained_tokens=float(training.trained_tokens) if training and training.trained_tokens else None,
        training_seconds=training.seconds if training else None,
        estimated_tokens=estimate_trained_tokens(header.data.sizes.get("train"), first),
        table=table,
        economics=economics,
    )
    out = Costs(
        prices=PricesInfo.model_validate(table.to_dict()),
        rungs=per_rung,
        finetune=fixed,
        requests_per_month=economics.requests_per_month,
        payback_months=economics.payback_months,
    )
    cheaper = [r for r in ladder(rows) if not r.trains and r.score is not None]
    if not cheaper:
        out.break_even_missing = "no scored rung below the fine-tuning rung"
        return out
    baseline = max(cheaper, key=lambda r: r.score or 0.0)
    out.baseline = baseline.name
    base_cost = by_name[baseline.name].usd_per_1k
    gain: float | None = None
    if tuned_row is not None:
        tuned_cost = by_name[tuned_row.name].usd_per_1k
        gain = (tuned_row.score or 0.0) - (baseline.score or 0.0)
        out.l4_estimated = False
    else:
        # Not run: a fine-tuned model gets the base rung's short prompt and answers like the best
        # cheaper rung (the behaviour it is trained on), at fine-tuned prices.
        est = (
            rung_cost(
                "fine-tuning", rung_model(first, header), trains=True,
                prompt_tokens=first.prompt_tokens_mean, completion_tokens=baseline.completion_tokens_mean,
                table=table, economics=economics, seconds=seconds_per_request(items, first.name),
            )
            if first is not None
            else None
        )
        tuned_cost = est.usd_per_1k if est else None
        out.l4_estimated = True
        out.l4_estimate = est
    if base_cost is None or tuned_cost is None:
        out.break_even_missing = "no price for " + ("the cheaper rung" if base_cost is None else "the fine-tuned model")
        return out
    out.l4_usd_per_1k = tuned_cost

    def at(fixed_usd: float) -> BreakEven:
        return break_even(
            fixed_usd, tuned_cost / 1000, base_cost / 1000, payback_months=economics.payback_months,
            score_gain=gain, cost_per_error=economics.cost_per_error,
        )

    out.break_even = at(fixed.total_usd.mid)
    spans = fixed.total_usd
    out.break_even_range = VolumeSpan(
        low=at(spans.low).requests_per_month, mid=at(spans.mid).requests_per_month, high=at(spans.high).requests_per_month
    )
    return out


def stop_rung(statistics: Statistics, rows: Sequence[SummaryRow]) -> SummaryRow | None:
    """The highest non-training rung that significantly beat its best cheaper rung, else the first."""
    order = [r for r in ladder(rows) if not r.trains and r.score is not None]
    if not order:
        return None
    stop = order[0]
    by_name = {r.name: r for r in order}
    for c in statistics.comparisons:
        if c.rung in by_name and c.verdict == "better":
            stop = by_name[c.rung]
    return stop


def analyse(run: LoadedRun, summary: Summary, *, economics_overrides: dict[str, Any] | None = None) -> Analysis:
    """The ``statistics``, ``costs`` and ``decision`` sections for a run record."""
    header = run.header
    economics, dec = settings(header, economics_overrides)
    stats = build_statistics(summary, run.items, min_gain=dec.min_gain, alpha=dec.alpha, power=dec.power)
    costs = build_costs(run, summary, economics)
    costs.trade = trade_points(summary.rungs, costs.rungs)
    tuned = training_row(summary.rungs)
    q1, ch1 = questions.prompting(header, dec.min_gain)
    q2, ch2 = questions.data(header, dec.min_gain)
    q3, ch3 = questions.volume(costs, economics.requests_per_month)
    q4, ch4 = questions.significance(stats.comparisons, tuned, stats.n_test, dec.min_gain)
    q5 = questions.knowledge(header)
    stop = stop_rung(stats, summary.rungs)
    be = costs.break_even.requests_per_month if costs.break_even else None
    evidence = Evidence(
        answers={a.key: a for a in (q1, q2, q3, q4, q5)},
        stop_rung=stop.name if stop else None,
        stop_title=(stop.title or stop.name) if stop else None,
        trained_rung=tuned.name if tuned else None,
        l4_ran=tuned is not None and tuned.score is not None,
        break_even=fmt_volume(be) if be is not None else None,
        never_pays_back=bool(costs.break_even and costs.break_even.never),
        changes=ch4 + ch3 + ch2 + ch1 + (["failures that retrieval does not fix"] if q5.status == "no" else []),
    )
    decision = decide(evidence)
    # Each rung's score with the interval stored on its summary row (the same text every view prints).
    decision.scores = [
        f"{r.title or r.name}: {interval_text(r.score, r.ci_low, r.ci_high)}" for r in summary.rungs
    ]
    # A judge that disagrees with people (or was never checked against them) is said in the verdict.
    decision.warnings = questions.judge_warnings(header)
    if decision.warnings:
        decision.verdict += f" Warning: {decision.warnings[0]}."
    decision.sections_missing = [
        label
        for present, label in (
            (header.audit is not None, "audit not run"),
            (header.diagnosis is not None, "knowledge-vs-behaviour diagnosis not run"),
            (header.training is not None, "fine-tuning not run"),
        )
        if not present
    ]
    return Analysis(statistics=stats, costs=costs, decision=decision)


def analysed(run: LoadedRun, economics_overrides: dict[str, Any] | None = None) -> Summary:
    """The run's summary with its statistics, costs and decision re-derived from the record."""
    if run.summary is None:
        raise ConfigError(
            f"the run has no summary.json (status: {run.header.status})",
            hint="the run did not finish; its items.jsonl holds what it completed",
        )
    a = analyse(run, run.summary, economics_overrides=economics_overrides)
    return run.summary.model_copy(update={"statistics": a.statistics, "costs": a.costs, "decision": a.decision})

