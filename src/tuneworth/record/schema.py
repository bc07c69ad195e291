"""The run record's types (pydantic v2): what climb writes and what resume, decide and report read.

Three files, three top-level models: ``RunHeader`` (``record.json``, rewritten atomically), one
``ItemResult`` per line of ``items.jsonl``, and ``Summary`` (``summary.json``). Every section is a
model of its own so a reader never guesses a shape. Models are strict (``extra="forbid"``): a field
nobody declared is a foreign or newer file, not data to drop silently. The few ``extra="allow"``
models are open by design, and each says why. Version 1 records are upgraded on read (``upgrade``).

Rung metadata (``fixes``, ``trains``, ``cost_class``, ``order``) is stored on every rung record and
summary row, so readers never test rung names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from tuneworth.record.derived import Costs, Decision, Statistics

SCHEMA_VERSION = 2

Status = Literal["running", "finished", "failed", "interrupted"]
Fixes = Literal["behaviour", "knowledge"]
CostClass = Literal["prompt", "retrieval", "training"]
Phase = Literal["validation", "test"]


class Strict(BaseModel):
    """Base of every record model: unknown fields are an error (a foreign or newer file)."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """Base of sections that are open by design (each subclass says why)."""

    model_config = ConfigDict(extra="allow")


# --- small shared pieces -------------------------------------------------------------------------


class Interval(Strict):
    """A confidence interval for a mean: computed once, stored on the row, shown the same everywhere."""

    lo: float
    hi: float
    level: float = 0.95
    method: str
    """``wilson`` (pass/fail scores), ``bootstrap`` (percentile, seeded), or another named method."""


class ModelRef(Strict):
    spec: str
    """As written in the task file (``provider/name``)."""
    id: str
    """What the provider reports it runs (e.g. a fine-tuned ``ft:...`` id)."""


class RungMeta(Strict):
    """What the rest of the code needs to know about a rung, instead of testing its name."""

    title: str = ""
    fixes: Fixes = "behaviour"
    """``knowledge`` only for a rung that retrieved documents in this run (decided per run)."""
    trains: bool = False
    cost_class: CostClass = "prompt"
    order: int = 0
    """Position on the ladder (cheapest first)."""


# --- header (record.json) ------------------------------------------------------------------------


class DataInfo(Strict):
    files: dict[str, str]
    sizes: dict[str, int]
    fingerprints: dict[str, str]
    test_ids: list[str]
    validation_ids: list[str]
    limit: int | None = None


class DecodingSkip(Strict):
    mode: str
    reason: str


class DecodingPlan(Strict):
    modes: list[str] = Field(default_factory=lambda: ["free"])
    skipped: list[DecodingSkip] = Field(default_factory=list)


class DecodingMode(Strict):
    config: dict[str, Any]
    score: float
    validity_rate: float
    n: int


class DecodingGap(Strict):
    """Free vs constrained decoding on one rung's validation items (``decoding/gap.py``)."""

    chosen: str
    modes: dict[str, DecodingMode]
    closed: bool | None = None
    verdict: str


class Candidate(Open):
    """One validation candidate. Open: each rung adds its own measurements (tokens, k, budget)."""

    config: dict[str, Any]
    score: float


class RungRecord(RungMeta):
    """One rung's selection, as the header keeps it."""

    chosen: dict[str, Any]
    validation: list[Candidate]
    notes: list[str] = Field(default_factory=list)
    system_prompt: str
    seconds: float
    model: ModelRef
    decoding: DecodingGap | None = None


class ResumeInfo(Strict):
    fingerprint: str
    rungs: list[str]
    limit: int | None = None
    task_file: str | None = None


class CacheInfo(Strict):
    enabled: bool
    hits: int


class ApiStats(Open):
    """Provider request counters. Open: each provider reports the counters it has."""

    concurrency: dict[str, Any] = Field(default_factory=dict)


# --- sections shared by header and summary -------------------------------------------------------


class AuditCheck(Open):
    """One audit check. Open: evidence, metrics and thresholds differ per check (audit/checks/)."""

    name: str
    status: str
    reason: str = ""


class AuditSection(Strict):
    """The data audit; the summary keeps status, counts and each check's name/status/reason."""

    status: str
    counts: dict[str, int]
    checks: list[AuditCheck]
    data: str | None = None
    kind: str | None = None
    n_examples: int | None = None
    readable: bool | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    seconds: float | None = None


class RetrievalSection(Strict):
    """L3's retrieval: mode, the chosen k and budget, the index and its measured quality."""

    mode: str
    k: int
    context_tokens: int
    index: dict[str, Any] | None = None
    retrieval: str | None = None
    mmr: float | bool | None = None
    quality: dict[str, Any] | None = None
    quality_all_labelled: dict[str, Any] | None = None
    items: dict[str, list[str]] | None = None


class CurvePoint(Strict):
    """One learning-curve point: L4 trained on ``fraction`` of train, scored on the whole test split."""

    fraction: float
    train_examples: int
    skipped: str | None = None
    model: str | None = None
    score: float | None = None
    interval: Interval | None = None
    n: int | None = None
    test_items: str | None = None
    """Digest of the test item ids the point was scored on (points compare only when equal)."""
    trained_tokens: int | None = None
    training_seconds: float | None = None


class TrainingSection(Strict):
    """L4's training: where, how long, how many tokens, the adapter/job, and the learning curve."""

    model_id: str | None = None
    trained: bool = False
    where: Literal["local", "remote"] | None = None
    note: str | None = None
    reused: bool | None = None
    base_model: str | None = None
    base_url: str | None = None
    job_id: str | None = None
    seconds: float | None = None
    trained_tokens: int | None = None
    hyperparameters: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    best: dict[str, Any] | None = None
    checkpoints: list[dict[str, Any]] | None = None
    dropped: list[Any] | None = None
    stopped_early: bool | None = None
    events: int | None = None
    prompt_tokens_per_request: float | None = None
    learning_curve: list[CurvePoint] | None = None


class DiagnosisSection(Strict):
    """Knowledge or behaviour: per test item, the first rung that got it right (``run/diagnosis``).

    With fewer than two rungs scored only ``note`` is set; the counts are absent (None), not zero."""

    rungs: list[str]
    pass_rule: str
    n: int
    note: str | None = None
    knowledge_rungs: list[str] | None = None
    counts: dict[str, int] | None = None
    failing: int | None = None
    shares: dict[str, float | None] | None = None
    fixed_by: dict[str, int] | None = None
    regressed: int | None = None
    items: dict[str, str] | None = None
    """Per test item id: ok, knowledge, behaviour, unfixed or unknown."""
    verdict: str | None = None
    fields: dict[str, Any] | None = None
    """The same reading per JSON field (counts, shares, fixed_by, regressed; no items)."""


class FlipsSection(Strict):
    """Per-item flips between the training rung and the best cheaper rung on the same test items."""

    rung: str
    against: str
    n: int
    fixed: list[str]
    broken: list[str]
    n_fixed: int
    n_broken: int
    unchanged: int


class JudgeSection(Open):
    """The LLM judge's setup. Open: rubric, calibration and agreement statistics grow per metric."""

    model: str | None = None
    warnings: list[str] = Field(default_factory=list)
    """Said in the decision's verdict (a judge that disagrees with people, or was never checked)."""


# --- header ---------------------------------------------------------------------------------------


class RunHeader(Strict):
    """``record.json``: everything about a run except its items."""

    schema_version: int = SCHEMA_VERSION
    status: Status = "running"
    tuneworth_version: str
    task: str
    config: dict[str, Any]
    """The resolved task config (``Task.resolved_config()``), kept as written so any run re-renders."""
    seed: int
    model: ModelRef
    data: DataInfo
    metric: str
    rungs: dict[str, RungRecord] = Field(default_factory=dict)
    audit: AuditSection | None = None
    judge: JudgeSection | None = None
    decoding: DecodingPlan = Field(default_factory=DecodingPlan)
    started_at: float
    python: str
    resume: ResumeInfo | None = None
    resumed_at: list[float] = Field(default_factory=list)
    finished_at: float | None = None
    seconds: float | None = None
    cache: CacheInfo | None = None
    api: ApiStats | None = None
    retrieval: RetrievalSection | None = None
    training: TrainingSection | None = None
    diagnosis: DiagnosisSection | None = None
    flips: FlipsSection | None = None


# --- items.jsonl ----------------------------------------------------------------------------------


class ItemResult(Strict):
    """One finished item (one line of ``items.jsonl``)."""

    rung: str
    phase: Phase
    config: dict[str, Any]
    item_id: str
    output: str
    score: float | None
    valid: bool
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    error: str | None = None
    finish_reason: str = "stop"
    details: dict[str, Any] = Field(default_factory=dict)
    """Metric-specific (fields, parsed, judge, similarity metrics): open by design, per metric."""
    cached: bool = False
    decoding: str = "free"
    input: str | None = None
    """The test item's input (the last user message), so reports show flips without the data files."""
    gold: str | None = None
    """The test item's gold answer."""


# --- summary.json ---------------------------------------------------------------------------------


class SummaryRow(RungMeta):
    """One rung's test result."""

    name: str
    config: dict[str, Any]
    metric: str
    n: int
    score: float | None = None
    interval: Interval | None = None
    validity_rate: float | None = None
    latency_p50_ms: float
    latency_p95_ms: float
    prompt_tokens_mean: float | None = None
    completion_tokens_mean: float | None = None
    errors: int
    metrics: dict[str, Any] = Field(default_factory=dict)
    """Secondary metrics (parse/schema/field rates, text similarities, judge counts): per metric."""
    decoding: str = "free"
    pass_rate: float | None = None
    pass_interval: Interval | None = None
    seconds: float | None = None
    model: str | None = None
    trained_tokens: int | None = None
    training_seconds: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        """``ci_low``/``ci_high`` are written for old readers; ``interval`` is the field."""
        if isinstance(data, dict) and ("ci_low" in data or "ci_high" in data):
            data = {k: v for k, v in data.items() if k not in ("ci_low", "ci_high")}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ci_low(self) -> float | None:
        """``interval.lo``, for readers of the version-1 row shape (not read back)."""
        return self.interval.lo if self.interval else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ci_high(self) -> float | None:
        """``interval.hi``, for readers of the version-1 row shape (not read back)."""
        return self.interval.hi if self.interval else None


class Summary(Strict):
    """``summary.json``: one row per rung plus every section a report shows."""

    schema_version: int = SCHEMA_VERSION
    task: str
    model: str
    metric: str
    sizes: dict[str, int]
    rungs: list[SummaryRow]
    models: dict[str, str] | None = None
    judge: JudgeSection | None = None
    audit: AuditSection | None = None
    retrieval: RetrievalSection | None = None
    diagnosis: DiagnosisSection | None = None
    training: TrainingSection | None = None
    flips: FlipsSection | None = None
    statistics: Statistics | None = None
    costs: Costs | None = None
    decision: Decision | None = None
    decision_error: str | None = None

    def row(self, name: str) -> SummaryRow | None:
        return next((r for r in self.rungs if r.name == name), None)


class LoadedRun(Strict):
    """A run directory read back: header, items in file order, and the summary if it was written."""

    header: RunHeader
    items: list[ItemResult]
    summary: Summary | None = None
