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
    rows = {r.name: r for r in result.summary.rungs}
    training = result.summary.training
    assert training is not None and training.model_id is not None and training.checkpoints
    assert training.where == "remote" and training.model_id.startswith("ft:base-model:toy:")
    assert (training.trained_tokens or 0) > 0 and training.checkpoints[0]["step"] == 30
    assert training.prompt_tokens_per_request == rows["L4"].prompt_tokens_mean
    assert rows["L4"].config == {"model": f"openai/{training.model_id}"}
    assert rows["L4"].trained_tokens == training.trained_tokens
    assert rows["L4"].trains and rows["L4"].cost_class == "training" and not rows["L1"].trains
    # The base model always says "neutral" (1/3 right); the job's model learned the words.
    assert (rows["L4"].score or 0) > (rows["L1"].score or 0) + 0.3
    flips = result.summary.flips
    assert flips is not None and flips.against == "L1" and flips.n_fixed > 0
    assert flips.n_fixed + flips.n_broken + flips.unchanged == flips.n == 15
    header = json.loads((tmp_path / "run" / "record.json").read_text())
    assert header["training"]["job_id"] and header["flips"]["fixed"] == flips.fixed
    items = [json.loads(x) for x in (tmp_path / "run" / "items.jsonl").read_text().splitlines()]
    assert {i["item_id"] for i in items if i["rung"] == "L4" and i["phase"] == "test"} == {
        i["item_id"] for i in items if i["rung"] == "L1" and i["phase"] == "test"
    }


def test_a_crashed_climb_re_attaches_to_its_remote_job(
    server: DoubleServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job id is in the run directory before polling; resuming the run watches that job again
    instead of paying for a new one."""
    from tuneworth.config.task import load_task
    from tuneworth.finetune import remote
    from tuneworth.providers.registry import resolve_model
    from tuneworth.record.store import load_record
    from tuneworth.run.climb import climb

    class Crash(Exception):
        pass

    def crash(seconds: float) -> None:
        raise Crash("the machine went down mid-poll")

    task = load_task(make_task(tmp_path / "task", server.base_url))
    model = resolve_model(task.model.name, task.model, cache=False)
    before = len(server.state.jobs)
    monkeypatch.setattr(remote, "_sleep", crash)
    with pytest.raises(Crash):
        climb(task, model, run_dir=tmp_path / "run", rungs=["L1", "L4"])
    assert len(server.state.jobs) == before + 1
    job_id = json.loads((tmp_path / "run" / "l4_remote_job.json").read_text())["job_id"]
    assert server.state.jobs[job_id]["status"] not in ("succeeded", "failed", "cancelled")
    assert load_record(tmp_path / "run").header.status == "failed"

    monkeypatch.undo()
    result = climb(task, model, rungs=["L1", "L4"], resume=tmp_path / "run")
    assert len(server.state.jobs) == before + 1, "a second (paid) job was created"
    assert result.summary.training is not None and result.summary.training.job_id == job_id
    assert load_record(tmp_path / "run").header.status == "finished"


def test_learning_curve_reaches_the_record_and_the_decision(server: DoubleServer, tmp_path: Path) -> None:
    """`tune --learning-curve` puts the curve in the record's training section, so the decision reads it."""
    root = make_task(tmp_path / "task", server.base_url, make_label_rows(100))  # 25 % of train >= 10
    before = len(server.state.jobs)
    proc = subprocess.run(
        [sys.executable, "-m", "tuneworth", "tune", str(root), "--learning-curve", "--json",
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(server.state.jobs) == before + 3  # 25 %, 50 % and L4's own run as the 100 % point
    from tuneworth.record.store import load_record

    run = load_record(tmp_path / "run")
    assert run.header.training is not None and run.summary is not None and run.summary.decision is not None
    curve = run.header.training.learning_curve
    assert curve is not None and [p.fraction for p in curve] == [0.25, 0.5, 1.0]
    assert curve[-1].score == run.summary.rungs[0].score and curve[-1].model == run.summary.rungs[0].config["model"]
    assert len({p.test_items for p in curve}) == 1  # every point on the same test items
    assert curve[0].skipped is None and curve[0].train_examples < curve[1].train_examples < curve[2].train_examples
    evidence = [e for q in run.summary.decision.questions for e in q.evidence]
    assert not [e for e in evidence if "no learning curve" in e]
    assert [e for e in evidence if e.startswith("learning curve: 0.5→1 of train")]
    assert json.loads(proc.stdout)["training"]["learning_curve"][0]["fraction"] == 0.25


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
