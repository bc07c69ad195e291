"""Resume: a climb killed with SIGKILL at random moments, then resumed, ends with a complete record,
no duplicates, and no finished item asked for again. Real CLI in a subprocess, real SDK, real server."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.data import make_label_rows, write_chat
from tests.helpers.raw_record import load_record
from tuneworth.config.task import load_task
from tuneworth.errors import ConfigError
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.providers.registry import resolve_model
from tuneworth.record.errors import RecordError
from tuneworth.record.schema import ItemResult
from tuneworth.record.store import item_line
from tuneworth.run.climb import climb
from tuneworth.run.resume import repair_items
from tuneworth.testing.fault_server import FaultConfig, RunningServer, serve_in_thread

TASK = """
name = "resumable"
seed = 7
[data]
path = "data.jsonl"
validation_size = 12
test_size = 15
[prompt]
system = "Classify the review."
[output]
kind = "label"
labels = ["positive", "negative", "neutral"]
[model]
name = "openai/echo"
base_url = "{url}"
api_key_env = "TW_RESUME_KEY"
max_connections = 4
timeout = 10
[rungs.L2]
k = [1, 3]
[rungs.L3]
enabled = false  # its dynamic few-shot can repeat an L2 prompt exactly; this test counts one request per item
"""
MAX_CONNECTIONS = 4


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(FaultConfig(latency_ms=15)) as s:
        yield s


def _task_dir(root: Path, url: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_chat(root / "data.jsonl", make_label_rows())
    (root / "tuneworth.toml").write_text(TASK.format(url=url), encoding="utf-8")
    return root


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "TUNEWORTH_HOME": str(home), "TUNEWORTH_CACHE": "1", "TW_RESUME_KEY": "sk-x"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tuneworth", "climb", *args]


def _keys(items: list[dict[str, object]]) -> list[str]:
    return [json.dumps([i["rung"], i["phase"], i["config"], i["item_id"]], sort_keys=True) for i in items]


def _cache_entries(home: Path) -> int:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(home / "cache.sqlite")) as db:
        return int(db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _run_and_kill(cmd: list[str], env: dict[str, str], runs: Path, after_lines: int) -> bool:
    """Start the climb; SIGKILL it once its items.jsonl has ``after_lines`` lines. False if it finished first."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            files = list(runs.glob("*/items.jsonl"))
            if files and _lines(files[0]) >= after_lines:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.002)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_at_random_moments_then_resume(
    tmp_path: Path, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.configure(latency_ms=15)
    task = _task_dir(tmp_path / "task", server.url)
    # Reference: one uninterrupted run, in process and without a cache, to know the complete record.
    monkeypatch.setenv("TW_RESUME_KEY", "sk-x")
    ref_task = load_task(task)
    ref = climb(
        ref_task, resolve_model(ref_task.model.name, ref_task.model, cache=False), runs_dir=tmp_path / "ref"
    )
    _, ref_items, ref_summary = load_record(ref.run_dir)
    distinct = server.stats()["distinct_bodies"]
    assert len(ref_items) == distinct == server.stats()["requests"]  # one request per item, nothing repeated

    for seed in range(3):
        rng = random.Random(seed)
        server.configure(latency_ms=15)
        runs, home = tmp_path / f"runs-{seed}", tmp_path / f"home-{seed}"
        cmd = _cli(str(task), "--runs-dir", str(runs))
        kills = 0
        for _ in range(2 if seed == 0 else 1):
            have = _lines(next(iter(runs.glob("*/items.jsonl")), runs / "none"))
            at = have + rng.randint(1, max(1, len(ref_items) - have - 8))
            kills += _run_and_kill(cmd, _env(home), runs, at)
        [run_dir] = list(runs.iterdir())  # every attempt reused the same run directory
        time.sleep(0.5)  # requests the killed process had already written reach the server's count
        before = server.stats()["requests"]
        recorded_before = set(_keys(load_record(run_dir)[1]))
        finished_before = len(recorded_before)
        cached_before = _cache_entries(home)
        # Seed 0 names the run explicitly; the others re-run the same command.
        final = _cli("--resume", str(run_dir)) if seed == 0 else cmd
        done = subprocess.run(final, env=_env(home), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "resuming" in done.stderr and list(runs.iterdir()) == [run_dir]

        header, items, summary = load_record(run_dir)
        keys = _keys(items)
        assert header["status"] == "finished" and kills == (2 if seed == 0 else 1)
        assert len(header["resumed_at"]) >= 1
        assert not [k for k, n in Counter(keys).items() if n > 1], "duplicated items"
        assert sorted(keys) == sorted(_keys(ref_items)), "lost items"
        assert all(i["error"] is None for i in items)
        strip = ("seconds", "latency_p50_ms", "latency_p95_ms")
        assert summary is not None and ref_summary is not None
        assert [{k: v for k, v in r.items() if k not in strip} for r in summary["rungs"]] == [
            {k: v for k, v in r.items() if k not in strip} for r in ref_summary["rungs"]
        ]
        # Paid calls: only the requests in flight at each kill may have been sent twice.
        after = server.stats(bodies=True)
        assert after["distinct_bodies"] == distinct
        repeated = after["requests"] - distinct
        assert repeated <= kills * MAX_CONNECTIONS, (repeated, kills)
        assert max(after["per_body"].values()) <= 1 + kills
        # And the final resume asked only for what was not finished before it.
        assert after["requests"] - before <= len(ref_items) - finished_before
        # Answers that arrived (and were cached) before a kill but were not yet in the record come from
        # the cache, marked so; only the rest was asked for, once each.
        new = [i for i, k in zip(items, keys, strict=True) if k not in recorded_before]
        from_cache = sum(bool(i["cached"]) for i in new)
        assert from_cache == cached_before - finished_before
        assert after["requests"] - before == len(new) - from_cache


def _result(item_id: str, error: str | None = None) -> ItemResult:
    return ItemResult(
        rung="L1", phase="test", config={}, item_id=item_id, output="", score=None if error else 1.0,
        valid=error is None, prompt_tokens=3, completion_tokens=1, latency_ms=1.0, error=error,
    )


def test_repair_drops_torn_tail_and_errored_items(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    ok, bad = _result("d:1"), _result("d:2", "ProviderError: HTTP 500")
    path.write_text(item_line(ok) + item_line(bad) + '{"rung": "L1", "pha')
    assert repair_items(path) == [ok]
    assert path.read_text() == item_line(ok)
    assert repair_items(path) == [ok]  # idempotent


def test_repair_refuses_a_bad_line_inside_the_file(tmp_path: Path) -> None:
    """Only the last line can be torn by a crash; a damaged line before it is corruption."""
    path = tmp_path / "items.jsonl"
    path.write_text(item_line(_result("d:1")) + "{not json\n" + item_line(_result("d:3")))
    with pytest.raises(RecordError, match=r"items.jsonl:2: corrupt item"):
        repair_items(path)
    assert path.read_text().count("\n") == 3  # left as it was


def test_interrupted_climb_resumes_in_process(label_task: Path, tmp_path: Path) -> None:
    task = load_task(label_task)
    calls = {"n": 0}

    def flaky(r: object) -> str:
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return "neutral"

    with pytest.raises(KeyboardInterrupt):
        climb(task, Model(FakeProvider(flaky), batch_size=4), runs_dir=tmp_path / "runs", rungs=["L1"])
    [run_dir] = list((tmp_path / "runs").iterdir())
    header, partial, _ = load_record(run_dir)
    assert header["status"] == "interrupted" and 0 < len(partial) < 63
    fake = FakeProvider(lambda r: "neutral")
    result = climb(task, Model(fake, batch_size=4), runs_dir=tmp_path / "runs", rungs=["L1"], resume=True)
    assert result.run_dir == run_dir
    _, items, _ = load_record(run_dir)
    assert len(items) == len(set(_keys(items))) == 63
    assert fake.calls == 63 - len(partial)  # finished items were not asked for again

    with pytest.raises(ConfigError, match="different --limit"):
        climb(task, Model(fake), runs_dir=tmp_path / "runs", rungs=["L1"], limit=5, resume=run_dir)
