"""climb audits the training split first and carries the report into the record, summary and Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.raw_record import load_record
from tuneworth.config.task import load_task
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.report.markdown import render_details
from tuneworth.run.climb import climb


def test_climb_carries_the_full_audit(label_task: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEWORTH_AUDIT", "full")
    logs: list[str] = []
    task = load_task(label_task)
    result = climb(task, Model(FakeProvider(lambda r: "positive")), runs_dir=label_task / "runs", rungs=["L1"], log=logs.append)
    header, _items, summary = load_record(result.run_dir)
    audit = header["audit"]
    assert [c["name"] for c in audit["checks"]] == [
        "format", "size", "duplicates", "contradictions", "consistency", "balance", "coverage",
        "representativeness", "label_noise",
    ]
    assert audit["inputs"]["embeddings"] is True and audit["n_examples"] == task_train_size(result.run_dir)
    # the held-out side of a climb's split never shares an exact input with train
    rep = next(c for c in audit["checks"] if c["name"] == "representativeness")
    assert rep["metrics"]["leakage"]["exact"] == 0 and rep["metrics"]["leakage"]["test"] == 27
    assert summary is not None and summary["audit"]["status"] == audit["status"]
    assert "## Data audit" in (result.run_dir / "summary.md").read_text()
    from tuneworth.record.store import load_record as load_typed

    run = load_typed(result.run_dir)
    assert run.summary is not None
    assert "## Data audit" in render_details(run.header, run.summary)  # `tuneworth report` re-renders it
    assert any(line.startswith("data audit") for line in logs)


def task_train_size(run_dir: Path) -> int:
    return int(json.loads((run_dir / "record.json").read_text())["data"]["sizes"]["train"])


def test_audit_can_be_turned_off(label_task: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEWORTH_AUDIT", "0")
    result = climb(load_task(label_task), Model(FakeProvider(lambda r: "positive")), runs_dir=label_task / "runs", rungs=["L1"])
    header, _, summary = load_record(result.run_dir)
    assert header.get("audit") is None and summary is not None and "audit" not in summary
