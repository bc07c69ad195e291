"""Fine-tuning jobs on any OpenAI-shaped API, through the official ``openai`` SDK.

Upload train/validation (``files.create(purpose="fine-tune")``), create the job, poll ``retrieve``,
stream ``list_events`` into the progress display, list checkpoints, and on Ctrl-C ask before calling
``cancel``. A failed job becomes a ``TrainingError`` carrying the job's ``error.code/message/param``;
``trained_tokens`` is kept for the cost analysis. OpenAI closes self-serve fine-tuning to new jobs on
2027-01-06; the same code drives any compatible service (or ``tuneworth serve``) via ``model.base_url``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneworth.errors import ConfigError, MissingDependencyError, TrainingCancelled, TrainingError

if TYPE_CHECKING:
    from tuneworth.config.task import Task
    from tuneworth.finetune.hyper import Hyperparameters

TERMINAL = {"succeeded", "failed", "cancelled"}


def make_client(task: Task, http_client: Any = None) -> Any:
    try:
        import openai
    except ImportError:
        raise MissingDependencyError("openai", "openai") from None
    base_url = task.model.base_url or os.environ.get("OPENAI_BASE_URL")
    key = os.environ.get(task.model.api_key_env)
    if not key:
        if base_url is None:
            raise ConfigError(
                f"remote fine-tuning needs an API key in ${task.model.api_key_env}",
                hint=f"export {task.model.api_key_env}=... or set model.base_url to a compatible server",
            )
        key = "not-needed"
    return openai.OpenAI(api_key=key, base_url=base_url, timeout=task.model.timeout, http_client=http_client)


def _api_error(what: str, e: Exception) -> TrainingError:
    body = getattr(e, "body", None)
    detail = body.get("message") if isinstance(body, dict) else None
    return TrainingError(
        f"{what} failed: {detail or e}", hint="check model.base_url, the key and the base model"
    )


def _confirm_cancel(job_id: str) -> bool:
    import click

    try:
        return bool(
            click.confirm(f"\ncancel fine-tuning job {job_id} on the server?", default=True, err=True)
        )
    except (click.Abort, EOFError, KeyboardInterrupt):
        return True


def _sleep(seconds: float) -> None:
    """Between polls (a module function, so a test can stand in for a crash mid-poll)."""
    time.sleep(seconds)


def _upload_and_create(
    client: Any, task: Task, base: str, train: Path, validation: Path | None, hp: Hyperparameters
) -> Any:
    with open(train, "rb") as f:
        train_id = client.files.create(file=f, purpose="fine-tune").id
    valid_id = None
    if validation is not None:
        with open(validation, "rb") as f:
            valid_id = client.files.create(file=f, purpose="fine-tune").id
    return client.fine_tuning.jobs.create(
        model=base,
        training_file=train_id,
        validation_file=valid_id,
        suffix=task.rungs.L4.suffix,
        seed=hp.seed,
        hyperparameters=_hyper(hp),
    )


def _hyper(hp: Hyperparameters) -> dict[str, Any]:
    return {"n_epochs": hp.n_epochs, "batch_size": hp.batch_size, "learning_rate_multiplier": hp.learning_rate_multiplier}


def _reattach(client: Any, job_file: Path | None, base: str, say: Callable[[str], None]) -> Any:
    """The job an earlier, interrupted run of this climb started, if it can still deliver a model."""
    import openai

    if job_file is None or not job_file.is_file():
        return None
    try:
        saved = json.loads(job_file.read_text(encoding="utf-8"))
        job_id, saved_base, saved_url = saved["job_id"], saved["base_model"], saved["base_url"]
    except (ValueError, KeyError, TypeError):
        return None  # not ours, or torn: start a fresh job
    if saved_base != base or saved_url != str(client.base_url):
        return None
    try:
        job = client.fine_tuning.jobs.retrieve(job_id)
    except openai.APIError:
        return None  # gone from the server
    if job.status in ("failed", "cancelled"):
        return None
    say(f"re-attached to fine-tuning job {job.id} ({job.status})")
    return job


def _remember(job_file: Path | None, job: Any, base: str, client: Any) -> None:
    """Write the job id into the run directory before polling, so a crash can re-attach to it."""
    if job_file is None:
        return
    from tuneworth.record.store import write_json_atomic

    write_json_atomic(job_file, {"job_id": job.id, "base_model": base, "base_url": str(client.base_url)})


def _watch(
    client: Any, job: Any, task: Task, say: Callable[[str], None], note: Any, confirm: Callable[[str], bool],
    sleep: Callable[[float], None],
) -> tuple[Any, int]:
    """Poll until the job ends, streaming its events; returns (job, number of events seen)."""
    import openai

    seen: set[str] = set()
    try:
        while True:
            events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
            for ev in sorted(events, key=lambda e: (e.created_at, e.id)):
                if ev.id not in seen:
                    seen.add(ev.id)
                    say(ev.message)
                    if note is not None:
                        note(f"L4 job {job.id}: {ev.message}"[:120])
            if job.status in TERMINAL:
                return job, len(seen)
            sleep(task.rungs.L4.poll_seconds)
            job = client.fine_tuning.jobs.retrieve(job.id)
    except KeyboardInterrupt:
        if confirm(job.id):
            client.fine_tuning.jobs.cancel(job.id)
            raise TrainingCancelled(f"fine-tuning job {job.id} cancelled") from None
        raise TrainingCancelled(
            f"stopped watching fine-tuning job {job.id}; it keeps running on the server",
            hint="re-run the same climb to re-attach to it, or score it later with "
            "`tuneworth eval TASK --model openai/<its fine_tuned_model>`",
        ) from None
    except openai.APIError as e:
        raise _api_error(f"watching fine-tuning job {job.id}", e) from None


def _check_outcome(job: Any) -> None:
    if job.status == "failed":
        err = job.error
        code = getattr(err, "code", None) or "unknown"
        msg = getattr(err, "message", None) or "no message"
        param = getattr(err, "param", None)
        raise TrainingError(
            f"fine-tuning job {job.id} failed ({code}): {msg}" + (f" [param: {param}]" if param else ""),
            hint="fix the data or hyperparameters it names and run again",
        )
    if job.status == "cancelled":
        raise TrainingCancelled(f"fine-tuning job {job.id} was cancelled on the server")


def _checkpoints(client: Any, job: Any, say: Callable[[str], None]) -> list[dict[str, Any]]:
    import openai

    checkpoints = []
    try:
        for c in client.fine_tuning.jobs.checkpoints.list(job.id).data:
            metrics = c.metrics.model_dump(exclude_none=True) if c.metrics else {}
            # metrics.step is a float in OpenAI's schema; the checkpoint's step_number is the integer.
            metrics.pop("step", None)
            checkpoints.append({"step": c.step_number, "model": c.fine_tuned_model_checkpoint, **metrics})
    except openai.APIError:
        pass  # some compatible servers have no checkpoints endpoint
    for c in checkpoints:
        say(f"checkpoint {c['model']} at step {c['step']}")
    return sorted(checkpoints, key=lambda c: c["step"])


def run_job(
    task: Task,
    base: str,
    train: Path,
    validation: Path | None,
    hp: Hyperparameters,
    progress: Any = None,
    *,
    client: Any = None,
    on_event: Callable[[str], None] | None = None,
    confirm: Callable[[str], bool] = _confirm_cancel,
    sleep: Callable[[float], None] | None = None,
    job_file: Path | None = None,
) -> tuple[str, dict[str, Any]]:
    """Run one fine-tuning job to the end; return (model spec ``openai/ft:...``, ``training`` section).

    ``job_file``: where the job's id is written before polling (the run directory's); when it names
    a job of the same base model and server that has not failed or been cancelled, that job is
    re-attached to instead of a new (paid) one being created."""
    import openai

    client = client or make_client(task)
    say = on_event or (lambda s: None)
    job = _reattach(client, job_file, base, say)
    if job is None:
        try:
            job = _upload_and_create(client, task, base, train, validation, hp)
        except openai.APIError as e:
            raise _api_error("creating the fine-tuning job", e) from None
        say(f"fine-tuning job {job.id} created ({job.status})")
        _remember(job_file, job, base, client)
    job, events = _watch(client, job, task, say, getattr(progress, "note", None), confirm, sleep or _sleep)
    _check_outcome(job)
    model = job.fine_tuned_model
    training = {
        "model_id": model,
        "trained": True,
        "where": "remote",
        "job_id": job.id,
        "base_model": base,
        "base_url": str(client.base_url),
        "seconds": (job.finished_at - job.created_at) if job.finished_at else None,
        "trained_tokens": job.trained_tokens,
        "hyperparameters": job.hyperparameters.model_dump() if job.hyperparameters else _hyper(hp),
        "checkpoints": _checkpoints(client, job, say),
        "events": events,
    }
    return f"openai/{model}", training
