"""Facts for the README prose: numbers counted from the data and task files, the stored demo run, benchmark results.

``<!-- fact: NAME -->value<!-- /fact -->`` is filled from ``FACTS[NAME]``; ``result:FILE.KEY.KEY`` reads
``benchmarks/results/FILE.json``.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Callable

from scripts.readme_run import REPO, STORED_RUN, ReadmeError, Run, run_command

# ---------------------------------------------------------------- facts


@functools.cache
def _triage_split() -> dict[str, int]:
    out = run_command("tuneworth validate examples/support-triage", run=None)
    m = re.search(r"train (\d+), validation (\d+), test (\d+)", out)
    if not m:
        raise ReadmeError(f"`tuneworth validate` printed no split sizes:\n{out}")
    return dict(zip(("train", "validation", "test"), map(int, m.groups()), strict=True))


def _lines(path: str) -> int:
    return sum(1 for line in (REPO / path).read_text().split("\n") if line.strip())


def _toml(path: str, *keys: str) -> object:
    value: object = tomllib.loads((REPO / path).read_text())
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise ReadmeError(f"{path} has no {'.'.join(keys)}")
        value = value[key]
    return value


@functools.cache
def _summary(run: Run | None) -> dict[str, object]:
    if run is None:
        raise ReadmeError(f"demo.* facts need the stored demo run ({STORED_RUN})")
    return json.loads(run_command("tuneworth report RUN --json", run=run).split("\n", 1)[1])


def _rung_score(rung: str) -> Callable[[Run | None], str]:
    def score(run: Run | None) -> str:
        rows = _summary(run).get("rungs", [])
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("name") == rung:
                return f"{row['score']:.3f}"
        raise ReadmeError(f"the stored run has no {rung} row")

    return score


def _comparison(rung: str) -> Callable[[Run | None], str]:
    """The decision statistics' own sentence for RUNG against the best cheaper rung."""

    def text(run: Run | None) -> str:
        stats = _summary(run).get("statistics")
        comparisons = stats.get("comparisons", []) if isinstance(stats, dict) else []
        for c in comparisons:
            if isinstance(c, dict) and c.get("rung") == rung and c.get("text"):
                return str(c["text"]).rstrip(".")
        raise ReadmeError(f"the stored run's summary has no statistics.comparisons entry with a text for {rung}")

    return text


def _minutes(seconds: float) -> str:
    m, sec = divmod(round(seconds), 60)
    return f"{m} min {sec:02d} s" if m else f"{sec} s"


def _timing(run: Run | None) -> str:
    """Wall time of the stored run: the whole climb, then the audit and each rung (from its record)."""
    if run is None:
        raise ReadmeError(f"demo.timing needs the stored demo run ({STORED_RUN})")
    record = json.loads((run.path / "record.json").read_text())
    rungs = record.get("rungs") or {}
    parts = [f"{name} {_minutes(r['seconds'])}" for name, r in rungs.items() if isinstance(r, dict) and r.get("seconds")]
    audit = record.get("audit") or {}
    if isinstance(audit, dict) and audit.get("seconds"):
        parts.insert(0, f"audit {_minutes(audit['seconds'])}")
    total = record.get("seconds")
    if not total or not parts:
        raise ReadmeError(f"{run.path / 'record.json'} has no seconds for the run and its rungs")
    cache = record.get("cache") or {}
    if isinstance(cache, dict) and "hits" in cache:
        parts.append(f"{cache['hits']} answers from the completion cache" if cache.get("enabled", True) else "cache off")
    return f"{_minutes(total)} wall ({', '.join(parts)})"


@functools.cache
def _schema_version() -> str:
    """The record version the code writes today: a two-item climb on the fake model, audit off (~2 s)."""
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="tw-readme-") as tmp:
        out = Path(tmp) / "run"
        args = ["climb", "examples/support-triage", "--model", "fake/echo", "--rungs", "L1", "--limit", "2"]
        proc = subprocess.run(
            [sys.executable, "-m", "tuneworth", *args, "--no-cache", "--out", str(out)],
            cwd=REPO, env={**os.environ, "TUNEWORTH_AUDIT": "off"}, capture_output=True, text=True,
        )
        if proc.returncode or not (out / "record.json").is_file():
            raise ReadmeError(f"the fake-model climb for the record version failed:\n{proc.stderr[-2000:]}")
        return str(json.loads((out / "record.json").read_text())["schema_version"])


TRIAGE = "examples/support-triage"
FACTS: dict[str, Callable[[Run | None], str]] = {
    "triage.examples": lambda _r: str(_lines(f"{TRIAGE}/data.jsonl")),
    "triage.train": lambda _r: str(_triage_split()["train"]),
    "triage.validation": lambda _r: str(_triage_split()["validation"]),
    "triage.test": lambda _r: str(_triage_split()["test"]),
    "triage.lora_layers": lambda _r: str(_toml(f"{TRIAGE}/tuneworth.toml", "rungs", "L4", "lora_layers")),
    "triage.n_epochs": lambda _r: str(_toml(f"{TRIAGE}/tuneworth.toml", "rungs", "L4", "n_epochs")),
    "brand.examples": lambda _r: str(
        _lines("examples/brand-voice/train.jsonl") + _lines("examples/brand-voice/test.jsonl")
    ),
    "brand.test": lambda _r: str(_lines("examples/brand-voice/test.jsonl")),
    "brand.calibration": lambda _r: str(_lines("examples/brand-voice/calibration.jsonl")),
    "record.schema_version": lambda _r: _schema_version(),
    "demo.L1.score": _rung_score("L1"),
    "demo.L2.score": _rung_score("L2"),
    "demo.L3.score": _rung_score("L3"),
    "demo.compare.L2": _comparison("L2"),
    "demo.compare.L3": _comparison("L3"),
    "demo.verdict": lambda r: str(_summary(r)["decision"]["verdict"]),  # type: ignore[index]
    "demo.timing": _timing,
    "demo.run": lambda r: r.provenance if r else "(no stored run)",
}


def result_value(spec: str) -> str:
    """``startup.tuneworth_help_ms`` -> that value of ``benchmarks/results/startup.json`` (lists joined by " / ")."""
    name, _, keys = spec.partition(".")
    path = REPO / "benchmarks" / "results" / f"{name}.json"
    if not path.is_file():
        raise ReadmeError(f"no benchmark result {path.relative_to(REPO)}")
    value: object = json.loads(path.read_text())
    for key in keys.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ReadmeError(f"{path.relative_to(REPO)} has no {keys}")
        value = value[key]
    return " / ".join(map(str, value)) if isinstance(value, list) else str(value)
