"""The climb: load the task, freeze one split, run each rung (choose on validation, score on test),
and write the run record. This module is the flow of a run; each step lives in its own module.
"""

from __future__ import annotations

import functools
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tuneworth import __version__
from tuneworth.config.task import Task
from tuneworth.data.example import Example, fingerprint
from tuneworth.data.formats import load_examples
from tuneworth.data.split import Split, split_examples, split_stratum
from tuneworth.errors import ConfigError, DatasetError
from tuneworth.evaluate.runner import Evaluator, ItemResult
from tuneworth.evaluate.summary import summarize
from tuneworth.judge.judge import Judge
from tuneworth.judge.setup import prepare_judge
from tuneworth.providers.model import Model
from tuneworth.providers.per_rung import rung_models
from tuneworth.run.record import RunRecord, new_run_dir
from tuneworth.run.resume import (
    RunLock,
    check_resumable,
    find_resumable,
    finished_items,
    read_header,
    repair_items,
    run_fingerprint,
)
from tuneworth.rungs import RUNGS, load_rung
from tuneworth.rungs.base import RunContext


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
    summary: dict[str, Any]


def check_gold(task: Task, examples: list[Example]) -> None:
    """Gold outputs must be answers of the task's kind: parseable JSON objects, or labels from the set."""
    kind = task.output.kind
    for ex in examples:
        path, _, line = ex.source.rpartition(":")
        lineno = int(line) if line.isdigit() else None
        if kind == "json":
            try:
                value = json.loads(ex.output)
            except json.JSONDecodeError as e:
                raise DatasetError(
                    f"ideal output is not valid JSON ({e.msg})",
                    path=path,
                    line=lineno,
                    hint='output.kind = "json" needs each ideal answer to be a JSON object',
                ) from None
            if not isinstance(value, dict):
                raise DatasetError("ideal output is JSON but not an object", path=path, line=lineno)
        elif kind == "label" and ex.output.strip() not in (task.output.labels or []):
            raise DatasetError(
                f"ideal output {ex.output.strip()!r} is not in output.labels",
                path=path,
                line=lineno,
                hint=f"labels are {task.output.labels}; fix the data or add the label",
            )


def load_split(task: Task) -> tuple[Split, dict[str, Any]]:
    d = task.data
    key = split_stratum(task)
    if d.path:
        examples = load_examples(task.resolve(d.path))
        check_gold(task, examples)
        split = split_examples(
            examples, validation_size=d.validation_size, test_size=d.test_size, seed=task.seed, stratify=key
        )
        files = {"path": d.path}
    else:
        assert d.train is not None
        train = load_examples(task.resolve(d.train))
        check_gold(task, train)
        val = load_examples(task.resolve(d.validation)) if d.validation else None
        test = load_examples(task.resolve(d.test)) if d.test else None
        for part in (val, test):
            if part:
                check_gold(task, part)
        if val is None or test is None:
            rest = split_examples(
                train,
                validation_size=d.validation_size if val is None else 1,
                test_size=d.test_size if test is None else 1,
                seed=task.seed,
                stratify=key,
            )
            train = (
                rest.train
                + (rest.validation if val is not None else [])
                + (rest.test if test is not None else [])
            )
            val = val if val is not None else rest.validation
            test = test if test is not None else rest.test
        split = Split(train, val, test)
        files = {k: getattr(d, k) for k in ("train", "validation", "test") if getattr(d, k)}
    info = {
        "files": files,
        "sizes": split.sizes(),
        "fingerprints": {k: fingerprint(getattr(split, k)) for k in ("train", "validation", "test")},
        "test_ids": [ex.id for ex in split.test],
        "validation_ids": [ex.id for ex in split.validation],
    }
    return split, info


def _audit(task: Task, split: Split, log: Callable[[str], None] | None) -> dict[str, Any] | None:
    """Audit the training split first (see audit/); the report goes into the record as ``audit``."""
    from tuneworth.audit.run import audit_split, climb_audit_mode

    mode = climb_audit_mode(task)
    if mode == "off":
        return None
    report = audit_split(task, split.train, split.validation + split.test, embeddings=mode == "full")
    if log:
        flagged = [f"{c.name} {c.status}" for c in report.checks if c.status in ("warn", "fail")]
        log(
            f"data audit ({report.seconds:.1f} s): {report.status}"
            + (f" ({', '.join(flagged)})" if flagged else "")
            + "; details in summary.md or `tuneworth audit`"
        )
    return report.to_dict(max_lines=100)


def _spec(task: Task, rung: str, given: dict[str, Model] | None, model: Model) -> str:
    return model.model_id if given and rung in given else task.model.for_rung(rung)


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
    started = time.time()
    split, data_info = load_split(task)
    full_test = split.test
    if limit is not None:
        split = Split(split.train, split.validation[:limit], split.test[:limit])
        data_info["limit"] = limit
        data_info["sizes"] = split.sizes()
    audit = _audit(task, split, log)
    schema = task.json_schema() if task.output.kind == "json" else None
    ctx = RunContext(task, split, schema, model.count_tokens)
    # Before the record exists: labels a model cannot tell apart are an error, not a half-written run.
    from tuneworth.decoding.plan import plan_decodings

    decoding_plan = plan_decodings(task, schema, model.provider)
    ctx.decodings = decoding_plan.modes
    if log:
        for skip in decoding_plan.skipped:
            log(f"decoding {skip['mode']} skipped: {skip['reason']}")
    wanted = rungs or [name for name in RUNGS if getattr(task.rungs, name).enabled]
    per_rung = rung_models(task, model, wanted, models)
    judge_info: dict[str, Any] | None = None
    if task.primary_metric == "judge":
        # Rubric, calibration file and judge reachability are checked before the first paid call.
        loaded = {task.model.name: model, **{task.model.for_rung(r): m for r, m in per_rung.items()}}
        judge, judge_info = prepare_judge(
            task, full_test, judge, cache=model.cache is not None, log=log, models=loaded
        )
    else:
        judge = None
    header = {
        "tuneworth_version": __version__,
        "task": task.name,
        "config": task.resolved_config(),
        "seed": task.seed,
        "model": {"spec": task.model.name, "id": model.model_id},
        "data": data_info,
        "metric": task.primary_metric,
        "rungs": {},
        "audit": audit,
        **({"judge": judge_info} if judge_info is not None else {}),
        "decoding": {"modes": decoding_plan.modes, "skipped": decoding_plan.skipped},
        "started_at": started,
        "python": platform.python_version(),
    }
    fingerprint = run_fingerprint(header, wanted, limit)
    header["resume"] = {
        "fingerprint": fingerprint,
        "rungs": wanted,
        "limit": limit,
        "task_file": str(task_file.resolve()) if task_file else None,
    }
    target = resume if isinstance(resume, Path) else None
    if resume is True and run_dir is None:
        target = find_resumable(runs_dir, task.name, fingerprint)
    finished: dict[str, dict[str, Any]] = {}
    if target is not None:
        old = read_header(target)
        check_resumable(target, old, header)
        lock = RunLock(target)
        if not lock.acquire():
            raise ConfigError(
                f"{target} is being written by another tuneworth process", hint="wait for it to finish"
            )
        kept = repair_items(target / "items.jsonl")
        record = RunRecord.reopen(target, {**old, "resumed_at": [*old.get("resumed_at", []), started]}, kept)
        finished = finished_items(kept)
        if log:
            log(f"resuming {target}: {len(kept)} finished items kept")
    else:
        record = RunRecord(run_dir or new_run_dir(runs_dir, task.name), header)
        lock = RunLock(record.dir)
        lock.acquire()
    rows: list[dict[str, Any]] = []
    status = "failed"
    try:
        for name in wanted:
            rung = load_rung(name)
            t0 = time.time()
            rung_model = per_rung[name]
            ctx.count_tokens = functools.lru_cache(maxsize=65536)(rung_model.count_tokens)
            total = (rung.planned_candidates(ctx) * len(split.validation)) + len(split.test)
            progress.start(rung.title, total)
            sink: Callable[[ItemResult], None] = lambda r: record.append(r.to_dict())  # noqa: E731
            if hasattr(rung, "prepare_model"):  # L4: the rung trains the model it is scored with
                progress.stop()
                rung_model = rung.prepare_model(ctx, rung_model, progress)
                progress.start(rung.title, total)
            ev = Evaluator(
                ctx, rung_model, sink=sink, advance=progress.advance, finished=finished, judge=judge
            )
            selection = rung.select(ctx, ev.validation_scores)
            ctx.chosen[name] = selection.chosen
            ev.run([selection.chosen], split.test, "test")
            progress.stop()
            # Summarize in test-split order, so the (seeded) bootstrap does not depend on the order
            # in which batches happened to finish or came from the cache.
            position = {ex.id: k for k, ex in enumerate(split.test)}
            test_items = sorted(
                (i for i in record.items if i["rung"] == name and i["phase"] == "test"),
                key=lambda i: position.get(i["item_id"], len(position)),
            )
            row = summarize(
                name, rung.title, selection.chosen.config, test_items, task.primary_metric, task.seed
            )
            row["seconds"] = round(time.time() - t0, 1)
            row["model"] = rung_model.model_id
            rows.append(row)
            record.header["rungs"][name] = {
                "chosen": selection.chosen.config,
                "validation": selection.candidates,
                "notes": selection.notes,
                "system_prompt": selection.chosen.system,
                "seconds": row["seconds"],
                "model": {"spec": _spec(task, name, models, rung_model), "id": rung_model.model_id},
            }
            if len(getattr(rung, "decodings", None) or ctx.decodings) > 1:  # L4 plans its own
                from tuneworth.decoding.gap import compare_decodings

                record.header["rungs"][name]["decoding"] = compare_decodings(
                    [i for i in record.items if i["rung"] == name and i["phase"] == "validation"],
                    selection.chosen.decoding,
                )
            sections = getattr(rung, "record_sections", None)
            # A rung's own top-level record sections (L3: retrieval, L4: training).
            for section, value in (sections(ctx, selection, split.test) if sections else {}).items():
                if section == "training":
                    value["prompt_tokens_per_request"] = row["prompt_tokens_mean"]
                    row.setdefault("trained_tokens", value.get("trained_tokens"))
                    row.setdefault("training_seconds", value.get("seconds"))
                record.header[section] = value
            record.update()
            if log:
                on = f" on {rung_model.model_id}" if rung_model is not model else ""
                log(
                    f"{rung.title}{on}: chose {selection.chosen.id} (validation {max(c['score'] for c in selection.candidates):.3f})"
                )
                if "decoding" in record.header["rungs"][name]:
                    log(f"{rung.title}: {record.header['rungs'][name]['decoding']['verdict']}")
        from tuneworth.run.diagnosis import diagnose

        # L3 fixes are knowledge only when it retrieved documents (dynamic few-shot fixes behaviour).
        knowledge = {"L3"} if record.header.get("retrieval", {}).get("mode") == "documents" else set()
        record.header["diagnosis"] = diagnose(
            record.items, [r["name"] for r in rows], [ex.id for ex in split.test], knowledge
        )
        if log and record.header["diagnosis"].get("verdict"):
            log(f"diagnosis: {record.header['diagnosis']['verdict']}")
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        record.update(
            finished_at=time.time(),
            seconds=round(time.time() - started, 1),
            cache={
                "enabled": model.cache is not None,
                "hits": sum({id(m): m.cache_hits for m in (model, *per_rung.values())}.values()),
            },
        )
        if (api := model.provider.api_stats()) is not None:
            record.update(api=api)
        record.close(status)
        lock.release()
    from tuneworth.evaluate.flips import flips
    from tuneworth.report.markdown import render_markdown

    flipped = flips(record.items, rows)
    if flipped is not None:
        record.header["flips"] = flipped
        record.update()
    summary = {
        "schema_version": record.header["schema_version"],
        "task": task.name,
        "model": model.model_id,
        "metric": task.primary_metric,
        "sizes": split.sizes(),
        "rungs": rows,
    }
    if len({m.model_id for m in per_rung.values()}) > 1:
        summary["models"] = {name: per_rung[name].model_id for name in wanted}
    if judge_info is not None:
        summary["judge"] = {k: v for k, v in judge_info.items() if k not in ("system_prompt", "user_template")}
        if summary["judge"].get("calibration"):
            summary["judge"]["calibration"] = {
                k: v for k, v in judge_info["calibration"].items() if k != "items"
            }
    if audit is not None:
        summary["audit"] = {k: audit[k] for k in ("status", "counts")} | {
            "checks": [{k: c[k] for k in ("name", "status", "reason")} for c in audit["checks"]]
        }
    for section in ("retrieval", "diagnosis"):
        if section in record.header:
            summary[section] = record.header[section]
    for section in ("training", "flips"):
        if section in record.header:
            summary[section] = record.header[section]
    from tuneworth.decide.evidence import analyse

    try:  # statistics, costs, decision: derived data, never a reason to lose the run's summary
        summary.update(analyse(record.header, record.items, summary))
    except Exception as e:  # pragma: no cover - a bug here must not cost the run
        summary["decision_error"] = f"{type(e).__name__}: {e}"
    record.write_summary(summary, render_markdown(record.header, summary))
    return ClimbResult(record.dir, summary)
