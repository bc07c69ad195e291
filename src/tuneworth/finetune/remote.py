"""Fine-tuning jobs on any OpenAI-shaped API, through the official ``openai`` SDK.

Upload train/validation (``files.create(purpose="fine-tune")``), create the job, poll ``retrieve``,
stream ``list_events`` into the progress display, list checkpoints, and on Ctrl-C ask before calling
``cancel``. A failed job becomes a ``TrainingError`` carrying the job's ``error.code/message/param``;
``trained_tokens`` is kept for the cost analysis. OpenAI closes self-serve fine-tuning to new jobs on
2027-01-06; the same code drives any compatible service (or ``tuneworth serve``) via ``model.base_url``.
"""

from __future__ import annotations

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
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, dict[str, Any]]:
    """Run one fine-tuning job to the end; return (model spec ``openai/ft:...``, ``training`` section)."""
    import openai

    client = client or make_client(task)
    say = on_event or (lambda s: None)
    note = getattr(progress, "note", None)
    try:
        with open(train, "rb") as f:
            train_id = client.files.create(file=f, purpose="fine-tune").id
        valid_id = None
        if validation is not None:
            with open(validation, "rb") as f:
                valid_id = client.files.create(file=f, purpose="fine-tune").id
        hyper = {
            "n_epochs": hp.n_epochs,
            "batch_size": hp.batch_size,
            "learning_rate_multiplier": hp.learning_rate_multiplier,
        }
        job = client.fine_tuning.jobs.create(
            model=base,
            training_file=train_id,
            validation_file=valid_id,
            suffix=task.rungs.L4.suffix,
            seed=hp.seed,
            hyperparameters=hyper,
        )
    except openai.APIError as e:
        raise _api_error("creating the fine-tuning job", e) from None
    say(f"fine-tuning job {job.id} created ({job.status})")
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
                break
            sleep(task.rungs.L4.poll_seconds)
            job = client.fine_tuning.jobs.retrieve(job.id)
    except KeyboardInterrupt:
        if confirm(job.id):
            client.fine_tuning.jobs.cancel(job.id)
            raise TrainingCancelled(f"fine-tuning job {job.id} cancelled") from None
        raise TrainingCancelled(
            f"stopped watching fine-tuning job {job.id}; it keeps running on the server",
            hint="score it later with `tuneworth eval TASK --model openai/<its fine_tuned_model>`",
        ) from None
    except openai.APIError as e:
        raise _api_error(f"watching fine-tuning job {job.id}", e) from None
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
        "hyperparameters": job.hyperparameters.model_dump() if job.hyperparameters else hyper,
        "checkpoints": sorted(checkpoints, key=lambda c: c["step"]),
        "events": len(seen),
    }
    return f"openai/{model}", training
