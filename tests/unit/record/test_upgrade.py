"""Version-1 records (written before the typed record) load as version 2 and still render.

The fixture is a real v1 run of the bundled support-triage demo, made by the pre-refactor code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import REPO
from tuneworth.record.schema import SCHEMA_VERSION
from tuneworth.record.store import load_record

V1 = REPO / "tests" / "fixtures" / "records" / "v1"


def test_a_real_v1_record_loads_typed() -> None:
    raw_rows = json.loads((V1 / "summary.json").read_text())["rungs"]
    n_items = (V1 / "items.jsonl").read_bytes().count(b"\n")
    run = load_record(V1)
    assert json.loads((V1 / "record.json").read_text())["schema_version"] == 1
    assert run.header.schema_version == SCHEMA_VERSION and run.header.status == "finished"
    assert len(run.items) == n_items
    assert run.summary is not None and [r.name for r in run.summary.rungs] == [r["name"] for r in raw_rows]
    for row, raw in zip(run.summary.rungs, raw_rows, strict=True):
        # The interval is the one v1 computed, now one field with its method.
        assert row.interval is not None and (row.interval.lo, row.interval.hi) == (raw["ci_low"], raw["ci_high"])
        assert row.score == raw["score"] and row.n == raw["n"]
    assert [(r.order, r.cost_class, r.trains) for r in run.summary.rungs] == [
        (1, "prompt", False), (2, "prompt", False), (3, "retrieval", False)
    ]
    documents = run.header.retrieval is not None and run.header.retrieval.mode == "documents"
    assert run.header.rungs["L3"].fixes == ("knowledge" if documents else "behaviour")
    assert run.summary.decision is not None and run.summary.decision.verdict


def test_tuneworth_report_renders_a_v1_record(tmp_path: Path) -> None:
    run_dir = tmp_path / "v1"
    shutil.copytree(V1, run_dir)
    out = subprocess.run(
        [sys.executable, "-m", "tuneworth", "report", str(run_dir)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "verdict" in out.stdout + out.stderr
    assert (run_dir / "report.html").stat().st_size > 10_000
    # The v1 files themselves are not rewritten by reading them.
    assert json.loads((run_dir / "record.json").read_text())["schema_version"] == 1
