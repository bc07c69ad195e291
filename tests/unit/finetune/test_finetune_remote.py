"""Remote fine-tuning through the official openai SDK against a local OpenAI-shaped double:
create -> events -> succeeded -> the ft: model is scored on the same test items; failures and cancel."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("openai") is None,
    reason="needs the [serve] and [openai] extras",
)

from tests.helpers.data import make_label_rows, write_label_task  # noqa: E402
from tests.helpers.ft_double import DoubleServer  # noqa: E402
from tuneworth.errors import TrainingCancelled, TrainingError  # noqa: E402


@pytest.fixture(scope="module")
def server() -> Iterator[DoubleServer]:
    with DoubleServer() as s:
        yield s


def make_task(root: Path, base_url: str, rows: list[tuple[str, str]] | None = None) -> Path:
    return write_label_task(root, f"""
[model]
name = "openai/base-model"
base_url = "{base_url}"
[rungs.L1]
variants = ["base"]
[rungs.L4]
enabled = true
suffix = "toy"
poll_seconds = 0.01
""", name="toy-remote", rows=rows)


def test_climb_fine_tunes_remotely_and_scores_the_ft_model(server: DoubleServer, tmp_path: Path) -> None:
    from tuneworth.config.task import load_task
    from tuneworth.providers.registry import resolve_model
    from tuneworth.run.climb import climb

    task = load_task(make_task(tmp_path / "task", server.base_url))
    result = climb(
        task,
        resolve_model(task.model.name, task.model, cache=False),
        run_dir=tmp_path / "run",
        rungs=["L1", "L4"],
    )
    rows = {r["name"]: r for r in result.summary["rungs"]}
    training = result.summary["training"]
    assert training["where"] == "remote" and training["model_id"].startswith("ft:base-model:toy:")
    assert training["trained_tokens"] > 0 and training["checkpoints"][0]["step"] == 30
    assert training["prompt_tokens_per_request"] == rows["L4"]["prompt_tokens_mean"]
    assert rows["L4"]["config"] == {"model": f"openai/{training['model_id']}"}
    assert rows["L4"]["trained_tokens"] == training["trained_tokens"]
    # The base model always says "neutral" (1/3 right); the job's model learned the words.
    assert rows["L4"]["score"] > rows["L1"]["score"] + 0.3
    flips = result.summary["flips"]
    assert flips["against"] == "L1" and flips["n_fixed"] > 0
    assert flips["n_fixed"] + flips["n_broken"] + flips["unchanged"] == flips["n"] == 15
    header = json.loads((tmp_path / "run" / "record.json").read_text())
    assert header["training"]["job_id"] and header["flips"]["fixed"] == flips["fixed"]
    items = [json.loads(x) for x in (tmp_path / "run" / "items.jsonl").read_text().splitlines()]
    assert {i["item_id"] for i in items if i["rung"] == "L4" and i["phase"] == "test"} == {
        i["item_id"] for i in items if i["rung"] == "L1" and i["phase"] == "test"
    }


def test_failed_job_is_a_clear_error_with_exit_code(server: DoubleServer, tmp_path: Path) -> None:
    rows = make_label_rows(60)
    rows = [(f"CORRUPT {inp}", out) for inp, out in rows]
    root = make_task(tmp_path / "bad", server.base_url, rows)
    proc = subprocess.run(
        [sys.executable, "-m", "tuneworth", "tune", str(root), "--runs-dir", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "failed (invalid_training_file): The training file has a corrupt example at line" in proc.stderr
    assert "[param: training_file]" in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_cancels_the_job_after_confirmation(server: DoubleServer, tmp_path: Path) -> None:
    from tuneworth.config.task import load_task
    from tuneworth.finetune.hyper import Hyperparameters
    from tuneworth.finetune.prepare import prepare
    from tuneworth.finetune.remote import run_job

    task = load_task(make_task(tmp_path / "t", server.base_url))
    info = prepare(task, tmp_path / "files")

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    asked: list[str] = []
    with pytest.raises(TrainingCancelled, match="cancelled"):
        run_job(
            task,
            "base-model",
            Path(info["train_file"]),
            Path(info["validation_file"]),
            Hyperparameters(),
            sleep=interrupt,
            confirm=lambda job: asked.append(job) or True,
        )
    assert asked and server.state.cancelled[-1] == asked[0]
    # Declining leaves the job running and says so.
    with pytest.raises(TrainingCancelled, match="keeps running on the server"):
        run_job(
            task,
            "base-model",
            Path(info["train_file"]),
            None,
            Hyperparameters(),
            sleep=interrupt,
            confirm=lambda job: False,
        )
    assert server.state.jobs[f"ftjob-{len(server.state.jobs) - 1}"]["status"] != "cancelled"


def test_unknown_base_url_is_a_training_error(tmp_path: Path) -> None:
    from tuneworth.config.task import load_task
    from tuneworth.finetune.hyper import Hyperparameters
    from tuneworth.finetune.prepare import prepare
    from tuneworth.finetune.remote import run_job

    task = load_task(make_task(tmp_path / "t", "http://127.0.0.1:9/v1"))
    task.model.timeout = 2
    info = prepare(task, tmp_path / "files")
    with pytest.raises(TrainingError, match="creating the fine-tuning job failed"):
        run_job(task, "base-model", Path(info["train_file"]), None, Hyperparameters())


def test_l4_system_prompt_override_is_used_in_training_files(tmp_path: Path) -> None:
    from tuneworth.config.task import load_task
    from tuneworth.finetune.prepare import l4_system, prepare

    root = make_task(tmp_path / "t", "http://127.0.0.1:9/v1")
    default = load_task(root)
    assert l4_system(default) == "Classify the review."
    toml = root / "tuneworth.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + 'system = "Label it."\n', encoding="utf-8")
    task = load_task(root)
    assert l4_system(task) == "Label it."
    info = prepare(task, tmp_path / "files")
    files = [Path(p) for p in info.values() if isinstance(p, str) and p.endswith(".jsonl")]
    assert files, info
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            msgs = json.loads(line)["messages"]
            assert msgs[0] == {"role": "system", "content": "Label it."}
