"""The run record's files: written typed, read back typed; corrupt or foreign files are clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneworth.record.errors import RecordError
from tuneworth.record.schema import (
    SCHEMA_VERSION,
    DataInfo,
    Interval,
    ItemResult,
    ModelRef,
    RunHeader,
    Summary,
    SummaryRow,
)
from tuneworth.record.store import RunRecord, load_record, read_items, sections_dict


def header() -> RunHeader:
    return RunHeader(
        tuneworth_version="0",
        task="t",
        config={"name": "t"},
        seed=0,
        model=ModelRef(spec="fake/echo", id="fake/echo"),
        data=DataInfo(files={"path": "d.jsonl"}, sizes={"train": 1, "validation": 1, "test": 1},
                      fingerprints={}, test_ids=["d:1"], validation_ids=["d:2"]),
        metric="exact",
        started_at=1.0,
        python="3.11",
    )


def item(item_id: str, output: str = "positive") -> ItemResult:
    return ItemResult(
        rung="L1", phase="test", config={"variant": "base"}, item_id=item_id, output=output, score=1.0,
        valid=True, prompt_tokens=10, completion_tokens=1, latency_ms=12.3456,
    )


def summary() -> Summary:
    row = SummaryRow(
        name="L1", title="L1 prompting", order=1, config={"variant": "base"}, metric="exact", n=1, score=1.0,
        interval=Interval(lo=0.2, hi=1.0, method="wilson"), validity_rate=1.0, latency_p50_ms=1.0,
        latency_p95_ms=1.0, prompt_tokens_mean=10.0, completion_tokens_mean=1.0, errors=0,
    )
    return Summary(task="t", model="fake/echo", metric="exact", sizes={"test": 1}, rungs=[row])


def write_run(d: Path, items: list[ItemResult]) -> RunRecord:
    record = RunRecord(d, header())
    for i in items:
        record.append(i)
    record.write_summary(summary(), "# t\n")
    record.close("finished")
    return record


def test_a_run_round_trips_through_its_files(tmp_path: Path) -> None:
    write_run(tmp_path / "run", [item("d:1"), item("d:2")])
    run = load_record(tmp_path / "run")
    assert run.header.status == "finished" and run.header.schema_version == SCHEMA_VERSION
    assert [i.item_id for i in run.items] == ["d:1", "d:2"]
    assert run.items[0].latency_ms == 12.3456
    assert run.summary == summary()
    # The v1 row shape stays readable for readers not yet on the types; it is not read back.
    row = json.loads((tmp_path / "run" / "summary.json").read_text())["rungs"][0]
    assert (row["ci_low"], row["ci_high"]) == (0.2, 1.0) and row["interval"]["method"] == "wilson"


def test_a_unicode_line_separator_inside_an_item_survives(tmp_path: Path) -> None:
    # str.splitlines() splits on U+2028/U+2029/U+0085 too; items.jsonl is split on "\n" only.
    text = "first\u2028second\u2029third\x85fourth"
    write_run(tmp_path / "run", [item("d:1", text), item("d:2")])
    assert "\u2028" in (tmp_path / "run" / "items.jsonl").read_text(encoding="utf-8")
    run = load_record(tmp_path / "run")
    assert [i.output for i in run.items] == [text, "positive"]


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    write_run(tmp_path / "run", [item("d:1")])
    with open(tmp_path / "run" / "items.jsonl", "a", encoding="utf-8") as f:
        f.write('{"rung": "L1", "phase": "te')
    items, torn = read_items(tmp_path / "run" / "items.jsonl")
    assert torn and [i.item_id for i in items] == ["d:1"]


@pytest.mark.parametrize(
    "line",
    ['{"rung": "L1"', "[1, 2]", '{"rung": "L1", "phase": "test"}'],
    ids=["not-json", "not-an-object", "not-an-item"],
)
def test_a_bad_line_inside_items_names_file_and_line(tmp_path: Path, line: str) -> None:
    write_run(tmp_path / "run", [])
    path = tmp_path / "run" / "items.jsonl"
    path.write_text(json.dumps(item("d:1").model_dump()) + "\n" + line + "\n" + json.dumps(item("d:3").model_dump()) + "\n")
    with pytest.raises(RecordError) as e:
        load_record(tmp_path / "run")
    assert f"{path}:2:" in str(e.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "corrupt run record"),
        ("[1, 2, 3]", r"not a run record \(JSON list"),
        ('{"hello": "world"}', "no integer schema_version"),
        ('{"schema_version": 2, "task": "t"}', "not a valid run record"),
        ('{"schema_version": 99}', "newer than this tuneworth reads"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
    ],
    ids=["not-json", "json-list", "foreign-object", "incomplete", "from-the-future", "binary"],
)
def test_a_corrupt_or_foreign_record_is_a_clear_error(tmp_path: Path, content: str | bytes, message: str) -> None:
    d = tmp_path / "run"
    write_run(d, [item("d:1")])
    path = d / "record.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RecordError, match=message) as e:
        load_record(d)
    assert str(path) in str(e.value)


def test_a_foreign_summary_is_a_clear_error(tmp_path: Path) -> None:
    d = tmp_path / "run"
    write_run(d, [item("d:1")])
    (d / "summary.json").write_text('{"schema_version": 2, "rows": []}')
    with pytest.raises(RecordError, match=r"summary.json: not a valid run summary"):
        load_record(d)


def test_no_record_json_is_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="not a run directory"):
        load_record(tmp_path)


def test_the_cli_reports_a_corrupt_record_without_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    d = tmp_path / "run"
    write_run(d, [item("d:1")])
    (d / "record.json").write_text("{oops")
    out = subprocess.run([sys.executable, "-m", "tuneworth", "report", str(d)], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "record.json:1: corrupt run record" in out.stderr and "Traceback" not in out.stderr


def test_status_finished_is_the_last_write(tmp_path: Path) -> None:
    record = RunRecord(tmp_path / "run", header())
    record.write_summary(summary(), "")
    assert load_record(tmp_path / "run").header.status == "running"
    record.close("finished")
    assert load_record(tmp_path / "run").header.status == "finished"


def test_sections_dict_leaves_absent_sections_out() -> None:
    d = sections_dict(header())
    assert "training" not in d and "retrieval" not in d and d["model"] == {"spec": "fake/echo", "id": "fake/echo"}
