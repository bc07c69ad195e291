"""The CLI as a user runs it: exit codes, clear errors without tracebacks, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def tw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuneworth", *args], capture_output=True, text=True, cwd=cwd)


def test_init_validate_climb_report(tmp_path: Path) -> None:
    task = tmp_path / "t"
    assert tw("init", str(task)).returncode == 0
    out = tw("validate", str(task))
    assert out.returncode == 0 and "ok" in out.stdout
    run = tmp_path / "run"
    res = tw("climb", str(task), "--model", "fake/constant:positive", "--out", str(run), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert [r["name"] for r in summary["rungs"]] == ["L1", "L2", "L3"]  # L3: dynamic few-shot (no docs)
    assert (run / "summary.md").exists() and (run / "record.json").exists()
    rep = tw("report", str(run), "--json")
    assert json.loads(rep.stdout) == summary
    assert tw("climb", str(task), "--model", "fake/echo", "--out", str(run)).returncode == 2  # exists


def test_bad_data_is_a_clear_error(tmp_path: Path) -> None:
    task = tmp_path / "t"
    tw("init", str(task))
    data = task / "data.jsonl"
    lines = data.read_text().splitlines()
    lines[4] = '{"messages": [{"role": "user", "content": "hi"}]'
    data.write_text("\n".join(lines) + "\n")
    res = tw("climb", str(task), "--model", "fake/echo", "--runs-dir", str(tmp_path / "runs"))
    assert res.returncode == 2
    assert f"{data}:5" in res.stderr and "not valid JSON" in res.stderr and "fix:" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_bad_model_name_and_unknown_rung(tmp_path: Path) -> None:
    task = tmp_path / "t"
    tw("init", str(task))
    res = tw("climb", str(task), "--model", "gpt4")
    assert res.returncode == 2 and "provider/name" in res.stderr and "Traceback" not in res.stderr
    res = tw("climb", str(task), "--model", "fake/echo", "--rungs", "L9")
    assert res.returncode == 2 and "unknown rung" in res.stderr
    res = tw("report", str(tmp_path))
    assert res.returncode == 2 and "not a run directory" in res.stderr
