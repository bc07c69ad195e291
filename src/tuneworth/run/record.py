"""The run record: a versioned header, per-item JSONL written as items finish, and summaries.

Layout of a run directory::

    record.json    header: schema_version, resolved config, data fingerprints and sizes, model id,
                   package version, seed, timings, per-rung selections (rewritten atomically)
    items.jsonl    one line per finished item (validation and test), appended and flushed
    summary.json   one row per rung (see README "Run record") + run metadata
    summary.md     the same as a Markdown table

Reports read only these files, never live objects, so any past run can be re-rendered.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import IO, Any

SCHEMA_VERSION = 1


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader (or a crash) never sees a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_run_dir(runs_dir: Path, task_name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", task_name).strip("-") or "task"
    base = runs_dir / f"{stamp}-{safe}"
    path, i = base, 2
    while path.exists():
        path = Path(f"{base}-{i}")
        i += 1
    return path


class RunRecord:
    def __init__(self, directory: Path, header: dict[str, Any]) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=False)
        self.header = {"schema_version": SCHEMA_VERSION, "status": "running", **header}
        write_json_atomic(self.dir / "record.json", self.header)
        self._items: IO[str] = open(self.dir / "items.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.items: list[dict[str, Any]] = []

    @classmethod
    def reopen(cls, directory: Path, header: dict[str, Any], items: list[dict[str, Any]]) -> RunRecord:
        """Continue an existing run: ``items`` are its finished items (already repaired on disk)."""
        self = cls.__new__(cls)
        self.dir = directory
        self.header = {**header, "status": "running"}
        write_json_atomic(self.dir / "record.json", self.header)
        self._items = open(self.dir / "items.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.items = list(items)
        return self

    def append(self, item: dict[str, Any]) -> None:
        self.items.append(item)
        self._items.write(json.dumps(item, ensure_ascii=False) + "\n")
        self._items.flush()

    def update(self, **fields: Any) -> None:
        self.header.update(fields)
        write_json_atomic(self.dir / "record.json", self.header)

    def close(self, status: str = "finished") -> None:
        self._items.close()
        self.update(status=status)

    def write_summary(self, summary: dict[str, Any], markdown: str) -> None:
        write_json_atomic(self.dir / "summary.json", summary)
        (self.dir / "summary.md").write_text(markdown, encoding="utf-8")


def load_record(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """Read a run directory: (header, items, summary or None)."""
    from tuneworth.errors import ConfigError

    d = Path(run_dir)
    header_path = d / "record.json"
    if not header_path.is_file():
        raise ConfigError(f"{d} is not a run directory (no record.json)", hint="pass a directory under runs/")
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{header_path}:{e.lineno}: corrupt run record ({e.msg})") from None
    version = header.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"{header_path}: run record schema_version {version!r}; this tuneworth reads {SCHEMA_VERSION}",
            hint="re-render it with the tuneworth version that wrote it",
        )
    items = []
    items_path = d / "items.jsonl"
    if items_path.is_file():
        for line in items_path.read_text(encoding="utf-8").splitlines():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line from a crash: everything before it is intact
    summary_path = d / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    return header, items, summary
