"""Resuming an interrupted climb in its own run directory, without losing or repeating an item.

Every finished item is already on disk (``items.jsonl`` is appended and flushed per item), so a
resume reads it back and skips those items. Three details make that safe after ``kill -9``:

* a run's ``fingerprint`` (resolved task config, data fingerprints, model id, rungs, limit) must
  match, so a resume never mixes answers from two different setups;
* ``items.jsonl`` is repaired before appending: a torn last line is dropped, and items that ended
  in a provider error are dropped too, so they are tried again (an item is finished once answered);
* a run directory is locked (``flock`` on ``.lock``) while a climb writes it: a live run is never
  resumed by a second process, while the lock of a killed process is released by the kernel.

Re-running the same command resumes the newest unfinished run of that fingerprint in the runs
directory; ``tuneworth climb --resume RUN_DIR`` names one explicitly.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from tuneworth.errors import ConfigError

try:  # POSIX; elsewhere runs are simply not locked.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def item_key(rung: str, phase: str, config: dict[str, Any], item_id: str) -> str:
    """What identifies one scored item within a run."""
    return json.dumps([rung, phase, config, item_id], sort_keys=True, ensure_ascii=False)


def run_fingerprint(header: dict[str, Any], rungs: list[str], limit: int | None) -> str:
    """Hash of everything that decides which items a climb asks for and how."""
    payload = {
        "config": header["config"],
        "model": header["model"],
        "fingerprints": header["data"]["fingerprints"],
        "rungs": rungs,
        "limit": limit,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class RunLock:
    """An exclusive, non-blocking lock on a run directory, held until ``release`` or process death."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / ".lock"
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        self._file = open(self.path, "a")  # noqa: SIM115
        if fcntl is None:
            return True
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            self._file = None
            return False
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None


def is_locked(run_dir: Path) -> bool:
    lock = RunLock(run_dir)
    if not (run_dir / ".lock").exists():
        return False
    if lock.acquire():
        lock.release()
        return False
    return True


def read_header(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "record.json"
    if not path.is_file():
        raise ConfigError(
            f"{run_dir} is not a run directory (no record.json)", hint="pass a directory under runs/"
        )
    try:
        header: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}:{e.lineno}: corrupt run record ({e.msg})") from None
    return header


def repair_items(path: Path) -> list[dict[str, Any]]:
    """Finished items in ``path``; rewrites the file (atomically) without a torn tail or errored items."""
    if not path.is_file():
        return []
    kept: list[dict[str, Any]] = []
    lines = path.read_bytes().split(b"\n")
    changed = lines[-1] != b""  # no final newline: the last write was torn
    for raw in lines[:-1] if not changed else lines:
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError:
            changed = True  # only a crash mid-write leaves this, and only on the last line
            continue
        if item.get("error"):
            changed = True
            continue
        kept.append(item)
    if changed:
        fd, tmp = tempfile.mkstemp(prefix=".items.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for item in kept:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    return kept


def finished_items(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item_key(i["rung"], i["phase"], i["config"], i["item_id"]): i for i in items}


def find_resumable(runs_dir: Path, task_name: str, fingerprint: str) -> Path | None:
    """The newest run of ``task_name`` with this fingerprint, if it is unfinished and not running."""
    if not runs_dir.is_dir():
        return None
    newest: tuple[float, Path, dict[str, Any]] | None = None
    for d in runs_dir.iterdir():
        if not (d / "record.json").is_file():
            continue
        try:
            header = json.loads((d / "record.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, OSError):
            continue
        if header.get("task") != task_name or header.get("resume", {}).get("fingerprint") != fingerprint:
            continue
        started = float(header.get("started_at") or 0)
        if newest is None or started > newest[0]:
            newest = (started, d, header)
    if newest is None or newest[2].get("status") == "finished" or is_locked(newest[1]):
        return None
    return newest[1]


def check_resumable(run_dir: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Refuse to resume a run made with another task, data, model or options (naming what differs)."""
    if old.get("resume", {}).get("fingerprint") == new["resume"]["fingerprint"]:
        return
    if "resume" not in old:
        raise ConfigError(
            f"{run_dir} was not written by a resumable climb", hint="start a new run (omit --resume)"
        )
    parts = {
        "task config": lambda h: h.get("config"),
        "model": lambda h: h.get("model"),
        "data": lambda h: h.get("data", {}).get("fingerprints"),
        "--rungs": lambda h: h.get("resume", {}).get("rungs"),
        "--limit": lambda h: h.get("resume", {}).get("limit"),
    }
    changed = [name for name, get in parts.items() if get(old) != get(new)]
    raise ConfigError(
        f"{run_dir} was started with a different {', '.join(changed) or 'setup'}",
        hint="resume with the same task file and options, or start a new run (omit --resume)",
    )
