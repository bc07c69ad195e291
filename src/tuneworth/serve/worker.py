"""The training worker: a child process of the server that runs queued jobs one at a time.

It holds an exclusive lock on ``<data-dir>/worker.lock``, so only one worker trains per data directory,
even while a killed server's orphan is still winding down. On start it recovers jobs left ``running``
by a crash (kill -9 included): each resumes from its last checkpoint (the trainer resumes from its
``work_dir``), and after ``MAX_ATTEMPTS`` interruptions it fails with a clear error, so no job stays
``running``. Between training steps it checks for cancellation and for its parent still being alive
(an orphaned worker stops and leaves the job to the next server's worker).

Run as ``python -m tuneworth.serve.worker --data-dir DIR --parent PID``; each job row names its base
model's local spec.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tuneworth.serve.store import Store, now

MAX_ATTEMPTS = 3
POLL_S = 0.2


class Worker:
    def __init__(self, store: Store, parent: int | None) -> None:
        self.store = store
        self.parent = parent
        self.stopping = False
        self._last_check = 0.0
        self._last_answer = False
        self._preload: threading.Thread | None = None

    def parent_alive(self) -> bool:
        if self.parent is None:
            return True
        return os.getppid() == self.parent

    def should_exit(self) -> bool:
        return self.stopping or not self.parent_alive()

    # ---- recovery -------------------------------------------------------------------------------

    def recover(self) -> None:
        """Jobs left ``running`` by a crash: resume them, or fail them after too many interruptions."""
        for job in self.store.query("SELECT * FROM jobs WHERE status='running'"):
            if job["attempts"] >= MAX_ATTEMPTS:
                message = (f"The job was interrupted {job['attempts']} times (server restarts or crashes) "
                           "and is not resumed again; create a new job to retry.")
                if self.store.set_status(job["id"], "failed", only_from=("running",), finished_at=now(),
                                         estimated_finish=None,
                                         error={"code": "interrupted", "message": message, "param": None}):
                    self.store.add_event(job["id"], message, level="error")
            else:
                self.store.add_event(job["id"], "The server restarted: resuming from the last checkpoint",
                                     level="warn")

    def next_job(self) -> Any:
        running = self.store.one("SELECT * FROM jobs WHERE status='running' ORDER BY rowid LIMIT 1")
        if running is not None:
            return running
        queued = self.store.one("SELECT * FROM jobs WHERE status='queued' ORDER BY rowid LIMIT 1")
        if queued is not None and self.store.set_status(queued["id"], "running", only_from=("queued",),
                                                        started_at=now()):
            self.store.add_event(queued["id"], "Fine-tuning job started")
            return self.store.get_job(queued["id"])
        return None

    # ---- one job --------------------------------------------------------------------------------

    def cancelled_or_exiting(self, job_id: str) -> bool:
        t = time.monotonic()
        if t - self._last_check >= 0.25:
            self._last_check = t
            row = self.store.get_job(job_id)
            self._last_answer = row is None or row["status"] != "running" or self.should_exit()
        return self._last_answer

    def run(self, job: Any) -> None:
        job_id = job["id"]
        # A job must not import transformers while the preload thread is half-way through it: the lazy
        # module then answers "cannot import name AutoModelForCausalLM" (seen after a kill -9 restart).
        if self._preload is not None:
            self._preload.join()
        try:
            from tuneworth.errors import TrainingCancelled, TuneworthError
            from tuneworth.finetune.hyper import Hyperparameters
            from tuneworth.finetune.local import TrainEvent, train_lora
        except ImportError as e:
            self.fail(job_id, "trainer_unavailable", f"The local LoRA trainer is not available: {e}", None)
            return

        self.store.update_job(job_id, attempts=job["attempts"] + 1)
        self._last_check, self._last_answer = 0.0, False
        files = {p: self.store.get_file(job[p]) if job[p] else None for p in ("training_file", "validation_file")}
        train_row = files["training_file"]
        if train_row is None:
            self.fail(job_id, "invalid_training_file", f"Training file {job['training_file']} no longer exists.",
                      "training_file")
            return
        requested = json.loads(job["hyperparameters"])
        hp = Hyperparameters(**requested, seed=job["seed"]).resolve(train_row["examples"])
        resolved = {k: getattr(hp, k) for k in ("n_epochs", "batch_size", "learning_rate_multiplier")}
        self.store.update_job(job_id, hyperparameters=resolved)
        started = time.time()
        first_step: list[int] = []

        def on_event(ev: TrainEvent) -> None:
            data: dict[str, Any] = {"step": ev.step, "total_steps": ev.total_steps}
            if ev.kind == "step":
                if ev.train_loss is not None:
                    data["train_loss"] = ev.train_loss
                if ev.valid_loss is not None:
                    data["valid_loss"] = ev.valid_loss
                message = f"Step {ev.step}/{ev.total_steps}: training loss={ev.train_loss:.4f}" if ev.train_loss \
                    is not None else f"Step {ev.step}/{ev.total_steps}"
                if ev.valid_loss is not None:
                    message += f", validation loss={ev.valid_loss:.4f}"
                self.store.add_event(job_id, message, type="metrics", data=data)
                if not first_step:
                    first_step.append(ev.step - 1)
                done = ev.step - first_step[0]
                if ev.total_steps and done > 0:
                    rate = (time.time() - started) / done
                    self.store.update_job(job_id, estimated_finish=int(time.time() + rate * (ev.total_steps - ev.step)))
            elif ev.kind == "checkpoint":
                metrics = {k: v for k, v in (("train_loss", ev.train_loss), ("valid_loss", ev.valid_loss))
                           if v is not None}
                name = f"ft:{job['model']}:{job['suffix'] or 'tuneworth'}:{job_id}:ckpt-step-{ev.step}"
                self.store.add_checkpoint(job_id, ev.step, metrics, name)
                self.store.add_event(job_id, f"Checkpoint created at step {ev.step}", data=data)
            else:
                self.store.add_event(job_id, ev.message, data=data)

        train_path = self.store.blob_path(train_row["sha256"])
        val_row = files["validation_file"]
        val_path = self.store.blob_path(val_row["sha256"]) if val_row is not None else None
        try:
            result = train_lora(
                job["base_spec"], train_path, val_path, hp, suffix=job["suffix"],
                work_dir=self.store.jobs_dir / job_id, on_event=on_event,
                should_stop=lambda: self.cancelled_or_exiting(job_id),
            )
        except TrainingCancelled:
            if self.should_exit():
                return  # leave it ``running``: the next worker resumes it
            self.store.add_event(job_id, "Training stopped: the job was cancelled")
            return
        except TuneworthError as e:
            self.fail(job_id, "training_failed", str(e), None)
            return
        except Exception as e:  # a bug or an environment problem: fail the job, keep serving the queue
            self.fail(job_id, "internal_error", f"Training failed: {type(e).__name__}: {e}", None)
            return
        self.store.add_model(result.model_id, job_id, job["model"], str(result.adapter_dir))
        final_hp = {k: result.hyperparameters[k] for k in resolved if k in result.hyperparameters}
        self.store.update_job(job_id, hyperparameters={**resolved, **final_hp})
        if self.store.set_status(job_id, "succeeded", only_from=("running",), fine_tuned_model=result.model_id,
                                 trained_tokens=result.trained_tokens, finished_at=now(), estimated_finish=None):
            self.store.add_event(job_id, f"New fine-tuned model created: {result.model_id}")
            self.store.add_event(job_id, "The job has successfully completed")

    def fail(self, job_id: str, code: str, message: str, param: str | None) -> None:
        if self.store.set_status(job_id, "failed", only_from=("running",), finished_at=now(), estimated_finish=None,
                                 error={"code": code, "message": message, "param": param}):
            self.store.add_event(job_id, message, level="error")

    def loop(self) -> None:
        self.recover()
        # Import torch, transformers and PEFT in the background while idle, so a new job starts training
        # sooner; claiming jobs (queued -> running) never waits for it.
        self._preload = threading.Thread(target=_preload, name="preload", daemon=True)
        self._preload.start()
        while not self.should_exit():
            job = self.next_job()
            if job is None:
                time.sleep(POLL_S)
                continue
            self.run(job)


def _preload() -> None:
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers.models.llama.modeling_llama  # noqa: F401

        import tuneworth.finetune.local  # noqa: F401
    except ImportError as e:
        print(f"tuneworth worker: the local trainer is not available ({e})", file=sys.stderr)


def _lock(data_dir: Path, worker: Worker) -> Any:
    """Take the data directory's worker lock, waiting while another worker (an orphan) still holds it."""
    f = (data_dir / "worker.lock").open("w")
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if worker.should_exit():
                sys.exit(0)
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tuneworth.serve.worker")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--parent", type=int, default=None)
    args = parser.parse_args(argv)
    store = Store(args.data_dir)
    worker = Worker(store, args.parent)

    def stop(signum: int, frame: Any) -> None:
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    lock = _lock(args.data_dir, worker)
    try:
        worker.loop()
    finally:
        store.close()
        lock.close()


if __name__ == "__main__":
    main()
