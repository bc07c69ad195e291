"""The summary's sections that decide/ derives from a record: statistics, costs, decision.

They are re-derived from the header and items on every render (``decide/evidence.analyse``), so a
report of an old run uses today's statistics; the copies in ``summary.json`` are for machines.
Kept apart from ``schema.py`` because decide/ owns their shapes. Strict like every record model;
the field names of version 1 are kept, so old summaries still validate.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Analysis",
    "BreakEven",
    "Comparison",
    "Costs",
    "Decision",
    "FinetuneCosts",
    "PricesInfo",
    "Question",
    "RungCost",
    "RungStatistics",
    "Span",
    "Statistics",
    "TradePoint",
    "VolumeSpan",
]


class Strict(BaseModel):
    """Unknown fields are an error (as in ``record.schema``)."""

    model_config = ConfigDict(extra="forbid")


class RungStatistics(Strict):
    """A rung's score and the interval stored on its summary row (a copy, never recomputed)."""

    n: int
    score: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    half_width: float | None


class Comparison(Strict):
    """One paired comparison of a rung against its best cheaper rung (``decide/statistics.compare``)."""

    rung: str
    baseline: str
    n_pairs: int
    diff: float
    ci_low: float | None
    ci_high: float | None
    """The mean difference's interval (the paired bootstrap of ``stats.paired``)."""
    p: float
    p_resolution: float = 0.0
    """The smallest p the test resolves: below it, p is printed "p < 1e-k" (``stats.paired.format_p``)."""
    test: str
    mde: float | None = None
    required_n: int | None = None
    required_n_observed: int | None = None
    only_baseline: int | None = None
    only_this: int | None = None
    discordant_rate: float | None = None
    sd_diff: float | None = None
    p_holm: float | None = None
    p_holm_resolution: float = 0.0
    verdict: str | None = None
    text: str | None = None


class Statistics(Strict):
    """``decide/statistics.build_statistics``: per-rung intervals and paired comparisons."""

    metric: str
    binary: bool
    alpha: float
    power: float
    min_gain: float
    n_test: int
    interval: str
    rungs: dict[str, RungStatistics]
    comparisons: list[Comparison]


class Span(Strict):
    """A low / middle / high estimate (engineer hours, fixed dollars)."""

    low: float
    mid: float
    high: float


class RungCost(Strict):
    """One rung's cost per 1k requests from its measured tokens (or measured time on local hardware)."""

    rung: str
    model: str
    fine_tuned: bool
    prompt_tokens: float | None
    completion_tokens: float | None
    usd_per_1k: float | None = None
    basis: str = "none"
    priced_as: str | None = None
    notes: list[str] = Field(default_factory=list)
    usd_per_1m_tokens: dict[str, float] | None = None
    seconds_per_request: float | None = None


class FinetuneCosts(Strict):
    """Fine-tuning's one-off costs: training compute (measured when the training rung ran) + people."""

    trained_tokens: float | None
    measured: bool
    compute_usd: float | None
    compute_basis: str
    human_hours: Span
    human_hourly_rate: float
    total_usd: Span
    notes: list[str] = Field(default_factory=list)


class BreakEven(Strict):
    """``decide/breakeven.break_even``: the monthly volume that repays the fixed costs, or never."""

    fixed_usd: float
    saving_per_request: float
    value_per_request: float
    payback_months: float
    requests_per_month: float | None
    never: bool
    reason: str


class VolumeSpan(Strict):
    """Break-even volumes (requests per month) at the low / middle / high fixed cost; None: never."""

    low: float | None
    mid: float | None
    high: float | None


class PricesInfo(Strict):
    as_of: str
    sources: list[str]
    fine_tuned_markup: float
    overridden: list[str] = Field(default_factory=list)


class TradePoint(Strict):
    """One rung on the trade chart: its row's score and stored interval, latency, cost per 1k."""

    rung: str
    title: str
    model: str | None
    score: float | None
    ci_low: float | None
    ci_high: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    usd_per_1k: float | None
    cost_basis: str | None


class Costs(Strict):
    """``decide/evidence.build_costs``: per-rung costs, fine-tuning's fixed costs and the break-even.

    ``l4_*`` fields name the training rung's numbers (measured, or estimated when it did not run);
    the names are kept from version 1 so old summaries still validate.
    """

    prices: PricesInfo
    rungs: list[RungCost] = Field(default_factory=list)
    finetune: FinetuneCosts
    requests_per_month: float | None = None
    payback_months: float = 12.0
    baseline: str | None = None
    break_even_missing: str | None = None
    l4_estimated: bool | None = None
    l4_estimate: RungCost | None = None
    l4_usd_per_1k: float | None = None
    break_even: BreakEven | None = None
    break_even_range: VolumeSpan | None = None
    trade: list[TradePoint] = Field(default_factory=list)


class Question(Strict):
    """One of the five questions, answered with the numbers behind it."""

    key: str
    question: str
    status: Literal["yes", "no", "unknown"]
    answer: str
    evidence: list[str] = Field(default_factory=list)


class Decision(Strict):
    """``decide/framework.decide`` plus the judge warnings, missing sections and the rows' scores."""

    verdict: str
    fine_tune: Literal["yes", "no", "not yet", "try"]
    stop_at: str | None
    reasons: list[str]
    what_would_change: list[str]
    questions: list[Question]
    warnings: list[str] = Field(default_factory=list)
    sections_missing: list[str] = Field(default_factory=list)
    scores: list[str] = Field(default_factory=list)
    """Each rung's score with its row's stored interval, as every view prints it."""


class Analysis(Strict):
    """What ``decide/evidence.analyse`` derives from a record: the three decide-owned sections."""

    statistics: Statistics
    costs: Costs
    decision: Decision
