"""The climb: load the task, freeze one split, run each rung (choose on validation, score on test),
and write the run record. This module is the flow of a run; each step lives in its own module.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tuneworth import __version__
from tuneworth.data.example import Example, fingerprint
from tuneworth.data.formats import load_examples
from tuneworth.data.split import Split, split_examples, split_stratum
from tuneworth.errors import DatasetError
from tuneworth.evaluate.runner import Evaluator, ItemResult
from tuneworth.evaluate.summary import summarize
from tuneworth.models.model import Model
from tuneworth.record import RunRecord, new_run_dir
from tuneworth.rungs import RUNGS, load_rung
from tuneworth.rungs.base import RunContext
from tuneworth.task import Task


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
) -> ClimbResult:
    """Climb the ladder for ``task`` with ``model`` and write the run record. Returns its location."""
    progress = progress or SilentProgress()
    started = time.time()
    split, data_info = load_split(task)
    if limit is not None:
        split = Split(split.train, split.validation[:limit], split.test[:limit])
        data_info["limit"] = limit
        data_info["sizes"] = split.sizes()
    schema = task.json_schema() if task.output.kind == "json" else None
    ctx = RunContext(task, split, schema, model.count_tokens)
    wanted = rungs or [name for name in RUNGS if getattr(task.rungs, name).enabled]
    header = {
        "tuneworth_version": __version__,
        "task": task.name,
        "config": task.resolved_config(),
        "seed": task.seed,
        "model": {"spec": task.model.name, "id": model.model_id},
        "data": data_info,
        "metric": task.primary_metric,
        "rungs": {},
        "started_at": started,
        "python": platform.python_version(),
    }
    record = RunRecord(run_dir or new_run_dir(runs_dir, task.name), header)
    rows: list[dict[str, Any]] = []
    status = "failed"
    try:
        for name in wanted:
            rung = load_rung(name)
            t0 = time.time()
            total = (rung.planned_candidates(ctx) * len(split.validation)) + len(split.test)
            progress.start(rung.title, total)
            sink: Callable[[ItemResult], None] = lambda r: record.append(r.to_dict())  # noqa: E731
            rung_model = model
            if hasattr(rung, "prepare_model"):  # L4: the rung trains the model it is scored with
                progress.stop()
                rung_model = rung.prepare_model(ctx, model, progress)
                progress.start(rung.title, total)
            ev = Evaluator(ctx, rung_model, sink=sink, advance=progress.advance)
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
            rows.append(row)
            record.header["rungs"][name] = {
                "chosen": selection.chosen.config,
                "validation": selection.candidates,
                "notes": selection.notes,
                "system_prompt": selection.chosen.system,
                "seconds": row["seconds"],
            }
            for section, value in getattr(rung, "record_sections", dict)().items():
                if section == "training":
                    value["prompt_tokens_per_request"] = row["prompt_tokens_mean"]
                record.header[section] = value
                row.setdefault("trained_tokens", value.get("trained_tokens"))
                row.setdefault("training_seconds", value.get("seconds"))
            record.update()
            if log:
                log(
                    f"{rung.title}: chose {selection.chosen.id} (validation {max(c['score'] for c in selection.candidates):.3f})"
                )
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        record.update(
            finished_at=time.time(),
            seconds=round(time.time() - started, 1),
            cache={"enabled": model.cache is not None, "hits": model.cache_hits},
        )
        record.close(status)
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
    for section in ("training", "flips"):
        if section in record.header:
            summary[section] = record.header[section]
    record.write_summary(summary, render_markdown(record.header, summary))
    return ClimbResult(record.dir, summary)
