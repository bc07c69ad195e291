"""The climb end to end with scripted fake providers: selection on validation, records, errors apart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.data import oracle_label
from tuneworth.config.task import load_task
from tuneworth.errors import ProviderError
from tuneworth.providers.base import ChatRequest, Completion, Provider
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.record.schema import SCHEMA_VERSION
from tuneworth.record.store import load_record
from tuneworth.run.climb import climb


def _user(r: ChatRequest) -> str:
    return r.messages[-1]["content"]


def test_rules_variant_wins_when_only_it_works(label_task: Path, tmp_path: Path) -> None:
    seen_test_in_selection: list[str] = []

    def responder(r: ChatRequest) -> str:
        if "Rules:" in r.messages[0]["content"]:
            return oracle_label(_user(r))
        return "I am not sure, sorry."

    task = load_task(label_task)
    result = climb(task, Model(FakeProvider(responder)), runs_dir=tmp_path / "runs")
    run = load_record(result.run_dir)
    header, items, summary = run.header, run.items, run.summary
    assert header.schema_version == SCHEMA_VERSION and header.status == "finished"
    assert header.rungs["L1"].chosen == {"variant": "rules"}
    l1 = {c.config["variant"]: c.score for c in header.rungs["L1"].validation}
    assert l1["rules"] == 1.0 and l1["base"] == 0.0 and set(l1) == {"base", "format", "rules", "cot"}
    # Selection used validation items only; test items were scored only for the chosen configuration.
    val_ids, test_ids = set(header.data.validation_ids), set(header.data.test_ids)
    for it in items:
        assert it.item_id in (val_ids if it.phase == "validation" else test_ids)
        if it.phase == "test":
            seen_test_in_selection.append(it.item_id)
    assert not val_ids & test_ids
    assert summary is not None and summary == result.summary  # what the climb returned is what it wrote
    n_rungs = len(summary.rungs)
    assert len(seen_test_in_selection) == n_rungs * len(test_ids)  # one chosen config per rung
    row = summary.rungs[0]
    assert row.score == 1.0 and row.n == 15 and row.errors == 0
    assert row.interval is not None and row.interval.method == "wilson" and row.interval.lo < 1.0
    assert row.metrics == {"unparseable": 0}
    # Rung metadata on every row and rung record, so readers never test names.
    assert [(r.order, r.cost_class, r.trains) for r in summary.rungs] == [
        (1, "prompt", False), (2, "prompt", False), (3, "retrieval", False)
    ]
    assert summary.rungs[2].fixes == header.rungs["L3"].fixes == "behaviour"  # no docs: dynamic few-shot
    # decide/'s sections validate against their models (a mismatch would land in decision_error).
    assert summary.decision_error is None and summary.statistics is not None and summary.costs is not None
    assert summary.decision is not None and summary.decision.verdict
    assert set(summary.statistics.rungs) == {r.name for r in summary.rungs}
    assert (result.run_dir / "summary.md").read_text().count("| L") == n_rungs


def test_fewshot_nearest_wins_and_demos_come_from_train(label_task: Path, tmp_path: Path) -> None:
    task = load_task(label_task)
    train_inputs: set[str] = set()

    def responder(r: ChatRequest) -> str:
        demos = [m["content"] for m in r.messages[1:-1]]
        if not demos:
            return "no idea"
        assert set(demos[0::2]) <= train_inputs  # demonstrations only from train
        # Copy the label of the last demonstration: right only when neighbours share the label.
        return demos[-1]

    from tuneworth.data.load import load_split

    split, _ = load_split(task)
    train_inputs.update(e.input for e in split.train)
    result = climb(task, Model(FakeProvider(responder)), runs_dir=tmp_path / "runs", rungs=["L2"])
    header = load_record(result.run_dir).header
    chosen = header.rungs["L2"].chosen
    assert chosen["selection"] == "nearest"
    assert len(header.rungs["L2"].validation) == 4  # coordinate search: 3 selections + 1 other k


class FlakyProvider(Provider):
    model_id = "fake/flaky"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        if any("number 3" in _user(r) for r in requests):
            raise ProviderError("server exploded", retryable=True)
        return [
            Completion(text=oracle_label(_user(r)), prompt_tokens=3, completion_tokens=1) for r in requests
        ]


def test_provider_errors_are_counted_apart(label_task: Path, tmp_path: Path) -> None:
    task = load_task(label_task)
    result = climb(task, Model(FlakyProvider(), batch_size=1), runs_dir=tmp_path / "runs", rungs=["L1"])
    row = result.summary.rungs[0]
    items = load_record(result.run_dir).items
    errored = [i for i in items if i.error]
    assert errored and all(i.score is None for i in errored)
    assert row.errors == sum(1 for i in errored if i.phase == "test")
    assert row.score == 1.0  # errors are not scored as wrong answers
    assert row.n + row.errors == 15


def test_items_are_appended_as_they_finish(label_task: Path, tmp_path: Path) -> None:
    task = load_task(label_task)
    counts: list[int] = []
    run_dir = tmp_path / "run"

    def responder(r: ChatRequest) -> str:
        path = run_dir / "items.jsonl"
        counts.append(len(path.read_text().splitlines()) if path.exists() else -1)
        return "neutral"

    climb(task, Model(FakeProvider(responder), batch_size=4), run_dir=run_dir, rungs=["L1"])
    assert counts[0] == 0 and max(counts) > 0  # earlier batches are on disk while later ones run
    lines = (run_dir / "items.jsonl").read_text().splitlines()
    assert all(json.loads(x)["rung"] == "L1" for x in lines)


def test_status_finished_is_written_after_the_summary(
    label_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that sees ``status: finished`` finds the summary written (it is the last write)."""
    from tuneworth.record.store import RunRecord

    seen: list[str] = []
    write_summary = RunRecord.write_summary

    def spy(self: RunRecord, *args: Any) -> None:
        seen.append(json.loads((self.dir / "record.json").read_text())["status"])
        write_summary(self, *args)

    monkeypatch.setattr(RunRecord, "write_summary", spy)
    task = load_task(label_task)
    result = climb(task, Model(FakeProvider(lambda r: "neutral")), run_dir=tmp_path / "run", rungs=["L1"])
    assert seen == ["running"]
    assert load_record(result.run_dir).header.status == "finished"
