"""From a climb's items to its typed summary: one ``SummaryRow`` per rung, then the ``Summary``.

A row's interval is computed once here (``evaluate.summary``: Wilson for pass/fail metrics, a seeded
percentile bootstrap otherwise) and stored on the row with its method. Rows are summarised in
test-split order, so the seeded bootstrap does not depend on the order batches finished in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tuneworth.data.example import Example
from tuneworth.evaluate.metrics import BINARY
from tuneworth.record.schema import (
    AuditCheck,
    AuditSection,
    ItemResult,
    JudgeSection,
    LoadedRun,
    Summary,
    SummaryRow,
)
from tuneworth.record.store import RunRecord

if TYPE_CHECKING:
    from tuneworth.config.task import Task
    from tuneworth.data.split import Split
    from tuneworth.providers.model import Model
    from tuneworth.rungs.base import Rung


def interval_method(metric: str) -> str:
    """The method ``stats.intervals.mean_interval`` uses for ``metric``."""
    return "wilson" if metric in BINARY else "bootstrap"


def row_from_dict(row: dict[str, Any], rung: Rung) -> SummaryRow:
    """A ``SummaryRow`` from ``evaluate.summary.summarize``'s dict (its ``interval`` and
    ``pass_interval`` already in the record's shape), with the rung's metadata."""
    return SummaryRow.model_validate({**rung.meta().model_dump(), **row, "title": rung.title})


def summary_row(
    rung: Rung, config: dict[str, Any], items: Sequence[ItemResult], test: Sequence[Example], task: Task, seconds: float
) -> SummaryRow:
    """The rung's test row, from the record's items (kept ones from a resumed run included)."""
    from tuneworth.evaluate.summary import summarize

    position = {ex.id: k for k, ex in enumerate(test)}
    test_items = sorted(
        (i for i in items if i.rung == rung.name and i.phase == "test"),
        key=lambda i: position.get(i.item_id, len(position)),
    )
    row = summarize(
        rung.name, rung.title, config, [i.model_dump() for i in test_items], task.primary_metric, task.seed
    )
    out = row_from_dict(row, rung)
    out.seconds = round(seconds, 1)
    return out


def _judge_summary(info: dict[str, Any]) -> JudgeSection:
    out = {k: v for k, v in info.items() if k not in ("system_prompt", "user_template")}
    if out.get("calibration"):
        out["calibration"] = {k: v for k, v in info["calibration"].items() if k != "items"}
    return JudgeSection.model_validate(out)


def _audit_summary(audit: AuditSection) -> AuditSection:
    checks = [AuditCheck(name=c.name, status=c.status, reason=c.reason) for c in audit.checks]
    return AuditSection(status=audit.status, counts=audit.counts, checks=checks)


def build_summary(
    task: Task,
    model: Model,
    per_rung: dict[str, Model],
    split: Split,
    judge_info: dict[str, Any] | None,
    record: RunRecord,
    rows: list[SummaryRow],
) -> Summary:
    """Flips into the header, then the summary (with decide/'s sections) written to the run directory."""
    from tuneworth.decide.evidence import analyse
    from tuneworth.evaluate.flips import flips
    from tuneworth.report.markdown import render_markdown

    h = record.header
    h.flips = flips(record.items, rows)
    record.save()
    summary = Summary(
        task=task.name,
        model=model.model_id,
        metric=task.primary_metric,
        sizes=split.sizes(),
        rungs=rows,
        models={r.name: per_rung[r.name].model_id for r in rows}
        if len({m.model_id for m in per_rung.values()}) > 1
        else None,
        judge=_judge_summary(judge_info) if judge_info is not None else None,
        audit=_audit_summary(h.audit) if h.audit is not None else None,
        retrieval=h.retrieval,
        diagnosis=h.diagnosis,
        training=h.training,
        flips=h.flips,
    )
    try:  # statistics, costs, decision: derived data, never a reason to lose the run's summary
        derived = analyse(LoadedRun.model_construct(header=h, items=record.items, summary=None), summary)
        summary.statistics, summary.costs, summary.decision = derived.statistics, derived.costs, derived.decision
    except Exception as e:  # pragma: no cover - a bug here must not cost the run
        summary.decision_error = f"{type(e).__name__}: {e}"
    record.write_summary(summary, render_markdown(h, summary))
    return summary
