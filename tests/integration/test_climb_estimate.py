"""``tuneworth climb`` prints the pre-run estimate (the same numbers as ``tuneworth estimate``) before it runs."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tuneworth.cli import cli
from tuneworth.config.task import load_task
from tuneworth.decide.estimate import estimate


def test_climb_prints_the_estimate_first(label_task: Path, tmp_path: Path) -> None:
    expected = estimate(load_task(label_task), ["L1"])
    r = CliRunner().invoke(
        cli, ["climb", str(label_task), "--rungs", "L1", "--no-cache", "--runs-dir", str(tmp_path / "runs")]
    )
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())  # the console may wrap the line
    assert f"estimate: {expected['requests']} requests, ~{expected['tokens_in']:,.0f} tokens in" in flat
    assert flat.index("estimate:") < flat.index("L1")  # before the rung runs
