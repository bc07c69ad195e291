"""Running the checklist: from files (``audit``) or from a climb's frozen split (``audit_split``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tuneworth.audit.checks import CHECKS, load_check
from tuneworth.audit.context import AuditContext, infer_kind
from tuneworth.audit.model import AuditReport, CheckResult
from tuneworth.audit.reader import Dataset, Record, read_dataset
from tuneworth.config.task import AuditConfig
from tuneworth.data.example import Example
from tuneworth.paths import audit_override

if TYPE_CHECKING:
    from tuneworth.config.task import Task


def audit(
    data: str | Path,
    *,
    production: str | Path | None = None,
    test: str | Path | None = None,
    task: Task | None = None,
    config: AuditConfig | None = None,
    embeddings: bool = True,
    checks: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> AuditReport:
    """Audit the training data in ``data`` (chat JSONL, prompt/completion JSONL or CSV).

    ``production``: real queries (JSONL, CSV or .txt, inputs only) for coverage and representativeness;
    ``test``: held-out examples, checked for leakage. ``task`` supplies the output kind, labels, schema,
    target model and ``[audit]`` thresholds; without it the kind is inferred from the outputs.
    """
    ds = read_dataset(data)
    if production is None and task is not None and task.data.production_sample:
        production = task.resolve(task.data.production_sample)
    prod = read_dataset(production, require_output=False) if production is not None else None
    tst = read_dataset(test) if test is not None else None
    ctx = _context(ds, task, config, prod, tst, embeddings)
    return run_checks(ctx, checks=checks, log=log)


def _context(
    ds: Dataset,
    task: Task | None,
    config: AuditConfig | None,
    prod: Dataset | None,
    tst: Dataset | None,
    embeddings: bool,
) -> AuditContext:
    if task is not None:
        return AuditContext(
            data=ds,
            kind=task.output.kind,
            labels=task.output.labels,
            schema=task.json_schema() if task.output.kind == "json" else None,
            model=task.model.name,
            config=config or task.audit,
            production=prod,
            test=tst,
            use_embeddings=embeddings,
            kind_source="task",
            system_prompt=task.prompt.system,
        )
    return AuditContext(
        data=ds,
        kind=infer_kind(ds),
        config=config or AuditConfig(),
        production=prod,
        test=tst,
        use_embeddings=embeddings,
        kind_source="inferred",
    )


EMBEDDING_CHECKS = {"duplicates", "contradictions", "coverage", "representativeness", "label_noise"}


def run_checks(
    ctx: AuditContext, *, checks: Sequence[str] | None = None, log: Callable[[str], None] | None = None
) -> AuditReport:
    started = time.perf_counter()
    results: list[CheckResult] = []
    if checks is None or set(checks) & EMBEDDING_CHECKS:
        ctx.preload()  # the model loads while the checks without embeddings run
    for name in checks or CHECKS:
        mod = load_check(name)
        t0 = time.perf_counter()
        if name != "format" and not ctx.records:
            result = CheckResult(name, mod.TITLE, "skip", "no usable examples to check")
        else:
            result = mod.run(ctx)
        result.seconds = round(time.perf_counter() - t0, 3)
        results.append(result)
        if log:
            log(f"{result.title}: {result.status} ({result.seconds:.1f} s)")
    inputs = {
        "data": ctx.data.path,
        "format": ctx.data.format,
        "production": ctx.production.path if ctx.production else None,
        "test": ctx.test.path if ctx.test else None,
        "kind_source": ctx.kind_source,
        "model": ctx.model,
        "embeddings": ctx.use_embeddings,
        "embedding_runtime": ctx.embedding_runtime,
        "thresholds": ctx.config.model_dump(),
    }
    return AuditReport(
        data=ctx.data.path,
        kind=ctx.kind,
        n_examples=len(ctx.records),
        checks=results,
        inputs=inputs,
        readable=all(d.readable for d in (ctx.data, ctx.production, ctx.test) if d is not None),
        seconds=round(time.perf_counter() - started, 3),
    )


def dataset_of(examples: list[Example], name: str, fmt: str = "chat") -> Dataset:
    """A Dataset over examples already loaded (a climb's split); lines come from each example's source."""
    records = []
    for ex in examples:
        tail = ex.source.rpartition(":")[2]
        records.append(Record(int(tail) if tail.isdigit() else 0, ex))
    return Dataset(path=name, format=fmt, records=records, n_lines=len(records))


def climb_audit_mode(task: Task) -> str:
    """``off``, ``cheap`` (no embeddings) or ``full``: ``$TUNEWORTH_AUDIT`` overrides ``audit.enabled``."""
    override = audit_override()
    if override is not None:
        return override
    return "full" if task.audit.enabled else "off"


def audit_split(
    task: Task,
    train: list[Example],
    held_out: list[Example],
    *,
    embeddings: bool = True,
    log: Callable[[str], None] | None = None,
) -> AuditReport:
    """The audit ``climb`` runs first: the training split, with validation+test as the leakage side.

    Embedding checks run when the training split has at most ``audit.embed_limit`` examples, so the
    audit never dominates a climb on large data (cheap checks always run).
    """
    files = task.data.path or task.data.train or "train"
    ds = dataset_of(train, f"{Path(files).name} (train split)")
    held = dataset_of(held_out, f"{Path(files).name} (validation+test)")
    prod = (
        read_dataset(task.resolve(task.data.production_sample), require_output=False)
        if task.data.production_sample
        else None
    )
    use_emb = embeddings and len(train) <= task.audit.embed_limit
    ctx = _context(ds, task, None, prod, held, use_emb)
    return run_checks(ctx, log=log)
