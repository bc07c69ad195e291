"""``/v1/fine_tuning/jobs``: create (legacy ``hyperparameters`` and the newer ``method`` form), list
(cursor pagination), retrieve, cancel, events, checkpoints.

Creating a job records it as ``validating_files``; a background task checks its files and moves it to
``queued``; the worker process claims queued jobs one at a time (``worker.py``). Cancel is a status
change the worker observes between training steps.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from tuneworth.serve.errors import APIError, bad_request, not_found
from tuneworth.serve.objects import checkpoint_object, event_object, job_object, page
from tuneworth.serve.params import field, json_body, query_int
from tuneworth.serve.store import TERMINAL, Store, new_id, now, valid_id

router = APIRouter()
SUFFIX = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LIMITS = {"n_epochs": (int, 1, 50), "batch_size": (int, 1, 256), "learning_rate_multiplier": (float, 1e-6, 100.0)}


def parse_hyperparameters(raw: Any, param: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad_request(f"'{param}' must be an object.", param=param)
    out: dict[str, Any] = {}
    for key, (kind, lo, hi) in LIMITS.items():
        value = raw.get(key, "auto")
        if value == "auto":
            out[key] = "auto"
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is int and ok and float(value) != int(value):
            ok = False
        if not ok or not lo <= value <= hi:
            raise bad_request(
                f"Invalid '{param}.{key}': expected 'auto' or a {'whole ' if kind is int else ''}number "
                f"between {lo:g} and {hi:g}, got {value!r}.", param=f"{param}.{key}", code="invalid_value",
            )
        out[key] = int(value) if kind is int else float(value)
    return out


def _job_row(store: Store, job_id: str) -> Any:
    row = store.get_job(job_id) if valid_id("job", job_id) else None
    if row is None:
        raise not_found("fine-tuning job", job_id, param="fine_tuning_job_id")
    return row


def _file_param(store: Store, body: dict[str, Any], name: str, required: bool) -> str | None:
    fid = field(body, name, str, required=required)
    if fid is None:
        return None
    row = store.get_file(fid) if valid_id("file", fid) else None
    if row is None:
        raise bad_request(f"invalid {name}: {fid}", param=name, code="invalid_file")
    if row["purpose"] != "fine-tune":
        raise bad_request(f"File {fid} has purpose {row['purpose']!r}, expected 'fine-tune'.", param=name)
    return fid


@router.post("/v1/fine_tuning/jobs")
async def create_job(request: Request) -> dict[str, Any]:
    state = request.app.state
    store: Store = state.store
    body = await json_body(request)
    model = field(body, "model", str, required=True)
    base_spec = state.pool.base_spec(model)
    if base_spec is None:
        raise bad_request(
            f"Model {model!r} is not available for fine-tuning; this server fine-tunes: "
            f"{', '.join(state.pool.bases)}.", param="model", code="model_not_available",
        )
    training = _file_param(store, body, "training_file", True)
    validation = _file_param(store, body, "validation_file", False)
    suffix = field(body, "suffix", str)
    if suffix is not None and not SUFFIX.match(suffix):
        raise bad_request("'suffix' must be 1-64 characters of letters, digits, '-' and '_'.", param="suffix")
    seed = field(body, "seed", int)
    if seed is None:
        seed = secrets.randbelow(2**31)
    hp = parse_hyperparameters(body.get("hyperparameters"), "hyperparameters")
    method = field(body, "method", dict)
    method_type = "supervised"
    if method is not None:
        method_type = method.get("type", "supervised")
        if method_type != "supervised":
            raise bad_request(f"Fine-tuning method {method_type!r} is not supported; use 'supervised'.",
                              param="method.type", code="unsupported_method")
        sup = method.get("supervised") or {}
        if not isinstance(sup, dict):
            raise bad_request("'method.supervised' must be an object.", param="method.supervised")
        from_method = parse_hyperparameters(sup.get("hyperparameters"), "method.supervised.hyperparameters")
        if "hyperparameters" in body and sup.get("hyperparameters") is not None:
            raise bad_request("Pass hyperparameters either in 'hyperparameters' or in 'method', not both.",
                              param="hyperparameters")
        hp = from_method or hp
    hp = {k: hp.get(k, "auto") for k in LIMITS}
    metadata = field(body, "metadata", dict)
    job_id = new_id("ftjob")
    with store.tx() as c:
        c.execute(
            "INSERT INTO jobs (id, created_at, model, base_spec, training_file, validation_file, suffix, seed,"
            " hyperparameters, method_type, status, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (job_id, now(), model, base_spec, training, validation, suffix, seed, json.dumps(hp), method_type,
             "validating_files", json.dumps(metadata) if metadata else None),
        )
    store.add_event(job_id, f"Created fine-tuning job: {job_id}")
    store.add_event(job_id, f"Validating training file: {training}"
                    + (f" and validation file: {validation}" if validation else ""))
    row = _job_row(store, job_id)
    task = asyncio.create_task(run_in_threadpool(validate_job, store, job_id, state.config.min_examples))
    state.background.add(task)  # keep a reference until it is done
    task.add_done_callback(state.background.discard)
    return job_object(row)


def validate_job(store: Store, job_id: str, min_examples: int) -> None:
    """validating_files -> queued, or failed with OpenAI's invalid-file error."""
    job = store.get_job(job_id)
    if job is None or job["status"] != "validating_files":
        return
    for param in ("training_file", "validation_file"):
        fid = job[param]
        if fid is None:
            continue
        row = store.get_file(fid)
        problem = None
        if row is None:
            problem = f"The {param.replace('_', ' ')} {fid} was deleted before the job started."
        elif param == "training_file" and row["examples"] < min_examples:
            problem = (f"Training file has {row['examples']} example(s), but must have at least "
                       f"{min_examples} examples")
        if problem:
            error = {"code": f"invalid_{param}", "message": problem, "param": param}
            if store.set_status(job_id, "failed", only_from=("validating_files",), error=error,
                                finished_at=now()):
                store.add_event(job_id, problem, level="error")
            return
    if store.set_status(job_id, "queued", only_from=("validating_files",)):
        store.add_event(job_id, "Files validated, moving job to queued state")


@router.get("/v1/fine_tuning/jobs")
def list_jobs(request: Request) -> dict[str, Any]:
    store: Store = request.app.state.store
    limit = query_int(request, "limit", 20, 1, 100)
    after = request.query_params.get("after")
    if after is not None and not valid_id("job", after):
        raise bad_request(f"Invalid 'after': {after!r} is not a fine-tuning job id.", param="after")
    rows, more = store.page("jobs", after, limit)
    return page([job_object(r) for r in rows], more)


@router.get("/v1/fine_tuning/jobs/{job_id}")
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    return job_object(_job_row(request.app.state.store, job_id))


@router.post("/v1/fine_tuning/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    store: Store = request.app.state.store
    row = _job_row(store, job_id)
    if row["status"] in TERMINAL:
        raise bad_request(f"Job {job_id} has already {row['status']} and cannot be cancelled.",
                          param="fine_tuning_job_id", code="job_not_cancellable")
    if not store.set_status(job_id, "cancelled", only_from=("validating_files", "queued", "running"),
                            finished_at=now(), estimated_finish=None):
        raise APIError(409, f"Job {job_id} finished while it was being cancelled.", code="job_not_cancellable")
    store.add_event(job_id, "Job cancelled")
    return job_object(_job_row(store, job_id))


@router.get("/v1/fine_tuning/jobs/{job_id}/events")
def list_events(request: Request, job_id: str) -> dict[str, Any]:
    return _job_page(request, job_id, "events", 20, event_object)


@router.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
def list_checkpoints(request: Request, job_id: str) -> dict[str, Any]:
    return _job_page(request, job_id, "checkpoints", 10, checkpoint_object)


def _job_page(
    request: Request, job_id: str, table: str, default_limit: int, to_object: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """One cursor page of a job's events or checkpoints (404 for an unknown job)."""
    store: Store = request.app.state.store
    _job_row(store, job_id)
    limit = query_int(request, "limit", default_limit, 1, 1000)
    rows, more = store.page(table, request.query_params.get("after"), limit, "job_id=?", (job_id,))
    return page([to_object(r) for r in rows], more)
