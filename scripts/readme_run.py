"""Running tuneworth commands for the README, and the stored demo run they render: what a reader's terminal shows.

Commands run as ``python -m tuneworth`` at 120 columns without colour; home paths are shown as the default
home, progress redraws collapse to their last state. The demo run is copied into the repository
(``tests/unit/docs/demo_run/``) with its provenance, so README blocks re-render from files alone.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STORED_RUN = REPO / "tests" / "unit" / "docs" / "demo_run"
RUN_FILES = ("record.json", "items.jsonl", "summary.json", "summary.md")
WIDTH = 120
DISPLAY_HOME = "~/.cache/tuneworth"

class ReadmeError(Exception):
    """A marker that cannot be rendered: names the file, the line and what is wrong."""


@dataclass(frozen=True)
class Run:
    """The stored demo run that ``RUN`` blocks and ``demo.*`` facts are rendered from."""

    path: Path
    name: str
    commit: str
    date: str

    @property
    def provenance(self) -> str:
        return f"run {self.name}, commit {self.commit}, {self.date}"


# ---------------------------------------------------------------- running commands


def _env(home: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(COLUMNS=str(WIDTH), LINES="50", NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8")
    env.pop("FORCE_COLOR", None)
    if home:
        env["TUNEWORTH_HOME"] = home
    return env


def run_command(
    command: str, *, run: Run | None, expect_exit: int = 0, stderr: bool = False, timeout: float = 900
) -> str:
    """Run ``tuneworth ...`` as a user would; its stdout (and stderr with ``stderr``), ``RUN`` = a copy of the run.

    stderr carries progress lines with timings, so blocks show stdout unless marked ``[stderr]``.
    """
    args = shlex.split(command)
    if not args or args[0] != "tuneworth":
        raise ReadmeError(f"only tuneworth commands are run, not {command!r}")
    with tempfile.TemporaryDirectory(prefix="tw-readme-") as tmp:
        shown = command
        if "RUN" in args:
            if run is None:
                raise ReadmeError(f"{command!r} needs the stored demo run (--run RUN_DIR, or {STORED_RUN})")
            copy = Path(tmp) / "runs" / run.name
            shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("climb.log", "provenance.json"))
            args = [str(copy) if a == "RUN" else a for a in args]
            shown = command.replace("RUN", f"runs/{run.name}")
        proc = subprocess.run(
            [sys.executable, "-m", "tuneworth", *args[1:]],
            cwd=REPO,
            env=_env(os.environ.get("TUNEWORTH_HOME")),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if stderr else subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
        out = proc.stdout
        if proc.returncode != expect_exit:
            said = out + (proc.stderr or "")
            raise ReadmeError(f"{command!r} exited {proc.returncode} (expected {expect_exit}):\n{said[-2000:]}")
        if "RUN" in shlex.split(command):
            out = out.replace(str(Path(tmp) / "runs"), "runs")
    return f"$ {shown}\n{_clean(out)}"


def _clean(text: str) -> str:
    """What a reader would have seen: progress redraws collapsed, home paths shown as the default home."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if "\r" in line:
            line = line.rsplit("\r", 1)[-1]
        lines.append(line.rstrip())
    out = "\n".join(lines).strip("\n") + "\n"
    home = os.environ.get("TUNEWORTH_HOME") or str(Path.home() / ".cache" / "tuneworth")
    return out.replace(home.rstrip("/"), DISPLAY_HOME)


def _fence(text: str) -> str:
    return f"```\n{text.rstrip()}\n```\n"


# ---------------------------------------------------------------- the stored run


def load_stored_run(path: Path = STORED_RUN) -> Run | None:
    """The run README blocks were rendered from, with the provenance stored beside it (None when absent)."""
    meta = path / "provenance.json"
    if not meta.is_file():
        return None
    info = json.loads(meta.read_text())
    return Run(path=path, name=info["name"], commit=info["commit"], date=info["date"])


def store_run(source: Path, log: Path | None, commit: str | None) -> Run:
    """Copy a finished run (and its terminal log) into the repository so the README can be re-rendered."""
    if not (source / "record.json").is_file():
        raise ReadmeError(f"{source} is not a run directory (no record.json)")
    record = json.loads((source / "record.json").read_text())
    if record.get("status") != "finished":
        raise ReadmeError(f"{source} has status {record.get('status')!r}: run the demo to the end first")
    if STORED_RUN.exists():
        shutil.rmtree(STORED_RUN)
    STORED_RUN.mkdir(parents=True)
    for name in RUN_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, STORED_RUN / name)
    log = log or next((p for p in (source / "climb.log", source.parent / "log.txt") if p.is_file()), None)
    if log is not None:
        raw = log.read_bytes().decode("utf-8", errors="replace")  # not read_text: it turns "\r" into "\n"
        text = _clean(raw).replace(str(source.resolve().parent), "runs")
        (STORED_RUN / "climb.log").write_text(text)
    commit = commit or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    when = record.get("finished_at") or record.get("started_at") or ""
    if isinstance(when, int | float):  # v1 records store unix times
        when = datetime.fromtimestamp(when, UTC).isoformat()
    date = str(when)[:10]
    info = {"name": source.resolve().name, "commit": commit, "date": date}
    (STORED_RUN / "provenance.json").write_text(json.dumps(info, indent=2) + "\n")
    return Run(path=STORED_RUN, **info)


def transcript(run: Run | None) -> str:
    if run is None or not (run.path / "climb.log").is_file():
        raise ReadmeError(f"a transcript block needs the stored run's climb.log ({STORED_RUN}; --run with --log)")
    return (run.path / "climb.log").read_text()
