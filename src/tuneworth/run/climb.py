"""The climb: load the task, freeze one split, run each rung (choose on validation, score on test),
and write the run record. This module is the flow of a run; each step lives in its own module.

``climb`` is a loop over rungs: every seam it uses is declared on ``rungs.base.Rung`` (no probing),
and the record is built as typed models (``record.schema``) that the store serialises. The header's
``status`` becomes ``finished`` last, after the summary is on disk, so a finished run is complete.
"""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tuneworth import __version__
from tuneworth.config.task import Task
from tuneworth.data.example import Example
from tuneworth.data.load import load_split
from tuneworth.data.split import Split
from tuneworth.errors import ConfigError
from tuneworth.evaluate.runner import Evaluator
from tuneworth.judge.judge import Judge
from tuneworth.providers.model import Model
from tuneworth.providers.per_rung import rung_models
from tuneworth.record.schema import (
    AuditSection,
    CacheInfo,
    Candidate,
    DataInfo,
    DecodingGap,
    DecodingPlan,
    ItemResult,
    JudgeSection,
    ModelRef,
    ResumeInfo,
    RungRecord,
    RunHeader,
    Status,
    Summary,
    SummaryRow,
)
from tuneworth.record.store import RunRecord, new_run_dir
from tuneworth.run.resume import (
    RunLock,
    check_resumable,
    find_resumable,
    finished_items,
    repair_items,
    run_fingerprint,
)
from tuneworth.run.rows import build_summary, summary_row
from tuneworth.rungs import RUNGS, load_rung
from tuneworth.rungs.base import RunContext, Rung


class Progress(Protocol):
    """Progress callbacks; the CLI passes a rich implementation, library use gets silence."""

    def start(self, title: str, total: int) -> None: ...
    def advance(self, n: int) -> None: ...
    def stop(self) -> None: ...


class SilentProgress:
    def start(self, title: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class ClimbResult:
    run_dir: Path
    summary: Summary


@dataclass
class Setup:
    """Everything a run needs before its first rung (checked before the record exists)."""

    task: Task
    model: Model
    split: Split
    full_test: list[Example]
    data: DataInfo
    audit: AuditSection | None
    ctx: RunContext
    decoding: DecodingPlan
    wanted: list[str]
    per_rung: dict[str, Model]
    given: dict[str, Model] | None
    judge: Judge | None
    judge_info: dict[str, Any] | None
    log: Callable[[str], None]


def _audit(task: Task, split: Split, log: Callable[[str], None]) -> AuditSection | None:
    """Audit the training split first (see audit/); the report goes into the record as ``audit``."""
    from tuneworth.audit.run import audit_split, climb_audit_mode

    mode = climb_audit_mode(task)
    if mode == "off":
        return None
    report = audit_split(task, split.train, split.validation + split.test, embeddings=mode == "full")
    flagged = [f"{c.name} {c.status}" for c in report.checks if c.status in ("warn", "fail")]
    log(
        f"data audit ({report.seconds:.1f} s): {report.status}"
        + (f" ({', '.join(flagged)})" if flagged else "")
        + "; details in summary.md or `tuneworth audit`"
    )
    return AuditSection.model_validate(report.to_dict(max_lines=100))


def prepare(
    task: Task,
    model: Model,
    rungs: list[str] | None,
    limit: int | None,
    log: Callable[[str], None],
    models: dict[str, Model] | None,
    judge: Judge | None,
) -> Setup:
    """Load and split the data, audit it, plan decodings, load the rung models and the judge."""
    from tuneworth.decoding.plan import plan_decodings
    from tuneworth.judge.setup import prepare_judge

    split, data = load_split(task)
    full_test = split.test
    if limit is not None:
        split = Split(split.train, split.validation[:limit], split.test[:limit])
        data = data.model_copy(update={"limit": limit, "sizes": split.sizes()})
    audit = _audit(task, split, log)
    schema = task.json_schema() if task.output.kind == "json" else None
    ctx = RunContext(task, split, schema, model.count_tokens)
    # Before the record exists: labels a model cannot tell apart are an error, not a half-written run.
    plan = plan_decodings(task, schema, model.provider)
    ctx.decodings = plan.modes
    for skip in plan.skipped:
        log(f"decoding {skip['mode']} skipped: {skip['reason']}")
    wanted = rungs or [name for name in RUNGS if getattr(task.rungs, name).enabled]
    per_rung = rung_models(task, model, wanted, models)
    judge_info: dict[str, Any] | None = None
    if task.primary_metric == "judge":
        # Rubric, calibration file and judge reachability are checked before the first paid call.
        loaded = {task.model.name: model, **{task.model.for_rung(r): m for r, m in per_rung.items()}}
        judge, judge_info = prepare_judge(task, full_test, judge, cache=model.cache is not None, log=log, models=loaded)
    else:
        judge = None
    decoding = DecodingPlan.model_validate({"modes": plan.modes, "skipped": plan.skipped})
    return Setup(
        task, model, split, full_test, data, audit, ctx, decoding, wanted, per_rung, models, judge, judge_info, log
    )


def new_header(s: Setup, started: float, limit: int | None, task_file: Path | None) -> RunHeader:
    task = s.task
    header = RunHeader(
        tuneworth_version=__version__,
        task=task.name,
        config=task.resolved_config(),
        seed=task.seed,
        model=ModelRef(spec=task.model.name, id=s.model.model_id),
        data=s.data,
        metric=task.primary_metric,
        audit=s.audit,
        judge=JudgeSection.model_validate(s.judge_info) if s.judge_info is not None else None,
        decoding=s.decoding,
        started_at=started,
        python=platform.python_version(),
    )
    header.resume = ResumeInfo(
        fingerprint=run_fingerprint(header, s.wanted, limit),
        rungs=s.wanted,
        limit=limit,
        task_file=str(task_file.resolve()) if task_file else None,
    )
    return header


def open_record(
    header: RunHeader, runs_dir: Path, run_dir: Path | None, resume: bool | Path, log: Callable[[str], None]
) -> tuple[RunRecord, RunLock, dict[str, ItemResult]]:
    """A new run directory, or the run to resume (locked; its finished items kept, by key)."""
    from tuneworth.record.store import read_header

    assert header.resume is not None
    target = resume if isinstance(resume, Path) else None
    if resume is True and run_dir is None:
        target = find_resumable(runs_dir, header.task, header.resume.fingerprint)
    if target is None:
        record = RunRecord(run_dir or new_run_dir(runs_dir, header.task), header)
        lock = RunLock(record.dir)
        lock.acquire()
        return record, lock, {}
    old = read_header(target)
    check_resumable(target, old, header)
    lock = RunLock(target)
    if not lock.acquire():
        raise ConfigError(f"{target} is being written by another tuneworth process", hint="wait for it to finish")
    kept = repair_items(target / "items.jsonl")
    old.resumed_at = [*old.resumed_at, header.started_at]
    log(f"resuming {target}: {len(kept)} finished items kept")
    return RunRecord.reopen(target, old, kept), lock, finished_items(kept)


def run_rung(
    rung: Rung, s: Setup, record: RunRecord, finished: dict[str, ItemResult], progress: Progress
) -> SummaryRow:
    """Choose on validation, score the choice on test, record the rung; returns its summary row."""
    ctx, name, t0 = s.ctx, rung.name, time.time()
    rung_model = s.per_rung[name]
    ctx.count_tokens = functools.lru_cache(maxsize=65536)(rung_model.count_tokens)
    total = rung.planned_candidates(ctx) * len(s.split.validation) + len(s.split.test)
    rung_model = rung.prepare_model(ctx, rung_model, progress)  # L4 trains the model it is scored with
    progress.start(rung.title, total)
    ev = Evaluator(ctx, rung_model, sink=record.append, advance=progress.advance, finished=finished, judge=s.judge)
    selection = rung.select(ctx, ev.validation_scores)
    ctx.chosen[name] = selection.chosen
    test_results = ev.run([selection.chosen], s.split.test, "test")[0]
    progress.stop()
    row = summary_row(rung, selection.chosen.config, record.items, s.split.test, s.task, time.time() - t0)
    sections = rung.record_sections(ctx, selection, test_results)  # after the row: not in its seconds
    row.model = rung_model.model_id
    given = s.given is not None and name in s.given
    spec = rung_model.model_id if given else s.task.model.for_rung(name)
    rec = RungRecord(
        **rung.meta().model_dump(),
        chosen=selection.chosen.config,
        validation=[Candidate.model_validate(c) for c in selection.candidates],
        notes=selection.notes,
        system_prompt=selection.chosen.system,
        seconds=row.seconds or 0.0,
        model=ModelRef(spec=spec, id=rung_model.model_id),
    )
    if len(rung.decodings(ctx)) > 1:
        from tuneworth.decoding.gap import compare_decodings

        validation = [i.model_dump() for i in record.items if i.rung == name and i.phase == "validation"]
        rec.decoding = DecodingGap.model_validate(compare_decodings(validation, selection.chosen.decoding))
    record.header.rungs[name] = rec
    if sections.retrieval is not None:
        record.header.retrieval = sections.retrieval
    if sections.training is not None:
        training = sections.training
        training.prompt_tokens_per_request = row.prompt_tokens_mean
        row.trained_tokens, row.training_seconds = training.trained_tokens, training.seconds
        record.header.training = training
    record.save()
    on = f" on {rung_model.model_id}" if rung_model is not s.model else ""
    best = max(c["score"] for c in selection.candidates)
    s.log(f"{rung.title}{on}: chose {selection.chosen.id} (validation {best:.3f})")
    if rec.decoding is not None:
        s.log(f"{rung.title}: {rec.decoding.verdict}")
    return row


def _diagnose(s: Setup, record: RunRecord, rows: list[SummaryRow]) -> None:
    from tuneworth.run.diagnosis import diagnose

    knowledge = {r.name for r in rows if r.fixes == "knowledge"}
    test_ids = [ex.id for ex in s.split.test]
    record.header.diagnosis = diagnosis = diagnose(record.items, [r.name for r in rows], test_ids, knowledge)
    if diagnosis.verdict:
        s.log(f"diagnosis: {diagnosis.verdict}")


def _stamp(record: RunRecord, s: Setup, started: float) -> None:
    """Timings, cache hits and the provider's request counters into the header."""
    h = record.header
    h.finished_at = time.time()
    h.seconds = round(h.finished_at - started, 1)
    models = {id(m): m for m in (s.model, *s.per_rung.values())}
    h.cache = CacheInfo(enabled=s.model.cache is not None, hits=sum(m.cache_hits for m in models.values()))
    # Provider request counters: a declared capability (Provider.api_stats; None for local providers).
    if (api := s.model.provider.api_stats()) is not None:
        from tuneworth.record.schema import ApiStats

        h.api = ApiStats.model_validate(api)
    record.save()


def climb(
    task: Task,
    model: Model,
    *,
    runs_dir: Path = Path("runs"),
    run_dir: Path | None = None,
    rungs: list[str] | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
    resume: bool | Path = False,
    task_file: Path | None = None,
    models: dict[str, Model] | None = None,
    judge: Judge | None = None,
) -> ClimbResult:
    """Climb the ladder for ``task`` with ``model`` and write the run record. Returns its location.

    ``resume``: a run directory to continue, or True to continue the newest unfinished run of the
    same task and options in ``runs_dir`` if there is one (see resume.py). Finished items are kept
    and not asked for again.
    ``models``: a model per rung (default: ``model.rungs`` in the task file, else ``model``);
    ``judge``: the LLM judge for ``metric = "judge"`` (default: built from the task's ``[judge]``).
    """
    progress = progress or SilentProgress()
    say = log or (lambda _: None)
    started = time.time()
    s = prepare(task, model, rungs, limit, say, models, judge)
    record, lock, finished = open_record(new_header(s, started, limit, task_file), runs_dir, run_dir, resume, say)
    s.ctx.run_dir = record.dir
    status: Status = "failed"
    try:
        rows = [run_rung(load_rung(name), s, record, finished, progress) for name in s.wanted]
        _diagnose(s, record, rows)
        _stamp(record, s, started)
        summary = build_summary(s.task, s.model, s.per_rung, s.split, s.judge_info, record, rows)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if status != "finished":
            _stamp(record, s, started)
        record.close(status)  # the last write: "finished" only once the summary is on disk
        lock.release()
    return ClimbResult(record.dir, summary)
