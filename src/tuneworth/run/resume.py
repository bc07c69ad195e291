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
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tuneworth.errors import ConfigError
from tuneworth.record.schema import ItemResult, RunHeader
from tuneworth.record.store import item_line, read_items

try:  # POSIX; elsewhere runs are simply not locked.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def item_key(rung: str, phase: str, config: dict[str, Any], item_id: str) -> str:
    """What identifies one scored item within a run."""
    return json.dumps([rung, phase, config, item_id], sort_keys=True, ensure_ascii=False)


def run_fingerprint(header: RunHeader, rungs: list[str], limit: int | None) -> str:
    """Hash of everything that decides which items a climb asks for and how."""
    payload = {
        "config": header.config,
        "model": header.model.model_dump(mode="json"),
        "fingerprints": header.data.fingerprints,
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


def repair_items(path: Path) -> list[ItemResult]:
    """Finished items in ``path``; rewrites the file (atomically) without a torn tail or errored items.

    A bad line inside the file (not the last) is corruption, not a crash: a ``RecordError``."""
    items, changed = read_items(path)
    kept = [i for i in items if not i.error]
    if changed or len(kept) != len(items):
        fd, tmp = tempfile.mkstemp(prefix=".items.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for item in kept:
                f.write(item_line(item))
        os.replace(tmp, path)
    return kept


def finished_items(items: list[ItemResult]) -> dict[str, ItemResult]:
    return {item_key(i.rung, i.phase, i.config, i.item_id): i for i in items}


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
        if header.get("task") != task_name or (header.get("resume") or {}).get("fingerprint") != fingerprint:
            continue
        started = float(header.get("started_at") or 0)
        if newest is None or started > newest[0]:
            newest = (started, d, header)
    if newest is None or newest[2].get("status") == "finished" or is_locked(newest[1]):
        return None
    return newest[1]


def check_resumable(run_dir: Path, old: RunHeader, new: RunHeader) -> None:
    """Refuse to resume a run made with another task, data, model or options (naming what differs)."""
    assert new.resume is not None
    if old.resume is not None and old.resume.fingerprint == new.resume.fingerprint:
        return
    if old.resume is None:
        raise ConfigError(
            f"{run_dir} was not written by a resumable climb", hint="start a new run (omit --resume)"
        )
    parts: dict[str, Callable[[RunHeader], Any]] = {
        "task config": lambda h: h.config,
        "model": lambda h: h.model,
        "data": lambda h: h.data.fingerprints,
        "--rungs": lambda h: h.resume.rungs if h.resume else None,
        "--limit": lambda h: h.resume.limit if h.resume else None,
    }
    changed = [name for name, get in parts.items() if get(old) != get(new)]
    raise ConfigError(
        f"{run_dir} was started with a different {', '.join(changed) or 'setup'}",
        hint="resume with the same task file and options, or start a new run (omit --resume)",
    )
