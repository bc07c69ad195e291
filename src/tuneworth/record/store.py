"""Writing and reading run directories: the one place that knows the files' layout and encoding.

Layout of a run directory::

    record.json    ``RunHeader``: rewritten atomically (a reader or a crash never sees half a file);
                   like summary.json, absent (None) sections are left out (``sections_dict``)
    items.jsonl    one ``ItemResult`` per line, appended and flushed as each item finishes
    summary.json   ``Summary``: one row per rung and every report section
    summary.md     the same as Markdown

``items.jsonl`` is split on ``\\n`` only, never ``str.splitlines()``: JSON keeps U+2028 and other
Unicode line separators unescaped inside strings (``ensure_ascii=False``), and they must survive.
A torn *last* line is what a crash leaves and is dropped; a bad line anywhere else is corruption and
a ``RecordError`` naming file and line. Version-1 records are upgraded on read (``upgrade``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import BaseModel, ValidationError

from tuneworth.record.errors import RecordError
from tuneworth.record.schema import SCHEMA_VERSION, ItemResult, LoadedRun, RunHeader, Status, Summary
from tuneworth.record.upgrade import upgrade_header, upgrade_item, upgrade_summary

RECORD, ITEMS, SUMMARY, SUMMARY_MD = "record.json", "items.jsonl", "summary.json", "summary.md"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader (or a crash) never sees a half-written file."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
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
    """A fresh ``runs_dir/<stamp>-<task>`` path (suffixed ``-2``, ``-3`` when taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", task_name).strip("-") or "task"
    base = runs_dir / f"{stamp}-{safe}"
    path, i = base, 2
    while path.exists():
        path = Path(f"{base}-{i}")
        i += 1
    return path


def item_line(item: ItemResult) -> str:
    """One ``items.jsonl`` line (UTF-8 as is: U+2028 stays a character, never a line break)."""
    return item.model_dump_json() + "\n"


class RunRecord:
    """The writer of one run directory: the header rewritten whole, items appended one line each."""

    def __init__(self, directory: Path, header: RunHeader, items: list[ItemResult] | None = None) -> None:
        """Start a new run in ``directory`` (which must not exist)."""
        self.dir = directory
        self.header = header
        if items is None:
            self.dir.mkdir(parents=True, exist_ok=False)
        self.header.status = "running"
        self.save()
        self._items: IO[str] = open(self.dir / ITEMS, "a", encoding="utf-8")  # noqa: SIM115
        self.items: list[ItemResult] = list(items or [])

    @classmethod
    def reopen(cls, directory: Path, header: RunHeader, items: list[ItemResult]) -> RunRecord:
        """Continue an existing run: ``items`` are its finished items (already repaired on disk)."""
        return cls(directory, header, items)

    def append(self, item: ItemResult) -> None:
        """Record one finished item: in memory and as one flushed line on disk."""
        self.items.append(item)
        self._items.write(item_line(item))
        self._items.flush()

    def save(self) -> None:
        """Rewrite ``record.json`` from ``self.header`` (absent sections left out)."""
        write_json_atomic(self.dir / RECORD, sections_dict(self.header))

    def write_summary(self, summary: Summary, markdown: str) -> None:
        write_json_atomic(self.dir / SUMMARY, sections_dict(summary))
        (self.dir / SUMMARY_MD).write_text(markdown, encoding="utf-8")

    def close(self, status: Status = "finished") -> None:
        """Stop appending and record ``status``: the last write of a run."""
        if not self._items.closed:
            self._items.close()
        self.header.status = status
        self.save()


# --- reading --------------------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RecordError(path, f"not a {what} (not UTF-8 text)", hint="pass a tuneworth run directory") from None
    except json.JSONDecodeError as e:
        raise RecordError(path, f"corrupt {what} ({e.msg})", line=e.lineno, hint="re-run the climb") from None
    if not isinstance(data, dict):
        raise RecordError(path, f"not a {what} (JSON {type(data).__name__}, not an object)")
    return data


def _invalid(path: Path, what: str, e: ValidationError, line: int | None = None) -> RecordError:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return RecordError(
        path, f"not a valid {what}: {where}: {first['msg']}{more}", line=line,
        hint="pass a directory written by `tuneworth climb`; a newer tuneworth may have written it",
    )


def _check_version(path: Path, data: dict[str, Any], what: str) -> int:
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(path, f"not a {what} (no integer schema_version)", hint="pass a tuneworth run directory")
    if version > SCHEMA_VERSION:
        raise RecordError(
            path, f"{what} schema_version {version} is newer than this tuneworth reads ({SCHEMA_VERSION})",
            hint="upgrade tuneworth (pip install -U tuneworth) to read it",
        )
    if version < 1:
        raise RecordError(path, f"{what} schema_version {version} is not a known version")
    return version


def read_header(run_dir: str | Path) -> RunHeader:
    """``record.json`` of ``run_dir`` as a ``RunHeader`` (upgraded from version 1 if need be)."""
    return _header(Path(run_dir))[0]


def _header(d: Path) -> tuple[RunHeader, int]:
    path = d / RECORD
    if not path.is_file():
        raise RecordError(d, "not a run directory (no record.json)", hint="pass a directory under runs/")
    data = _read_json(path, "run record")
    version = _check_version(path, data, "run record")
    if version == 1:
        data = upgrade_header(data)
    try:
        return RunHeader.model_validate(data), version
    except ValidationError as e:
        raise _invalid(path, "run record", e) from None


def raw_items(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
    """``items.jsonl`` as (line number, JSON object) pairs, and whether its last line was torn (dropped).

    Lines are split on ``\n`` only (U+2028 inside an item is not a line break); a bad line inside the
    file raises naming file:line. orjson: a 10k-item run's items parse in half the stdlib's time.
    """
    if not path.is_file():
        return [], False
    lines = path.read_bytes().split(b"\n")
    tail_torn = lines[-1] != b""  # no final newline: the last write did not finish
    out: list[tuple[int, dict[str, Any]]] = []
    last = len(lines) - 1 if not tail_torn else len(lines)
    for n, raw in enumerate(lines[:last], start=1):
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
        except ValueError as e:  # orjson.JSONDecodeError is a ValueError
            if n == len(lines) and tail_torn:
                break  # a torn last line from a crash: everything before it is intact
            raise RecordError(path, f"corrupt item ({e})", line=n, hint="a line inside the file is damaged") from None
        if not isinstance(data, dict):
            raise RecordError(path, f"corrupt item (JSON {type(data).__name__}, not an object)", line=n)
        out.append((n, data))
    return out, tail_torn


def read_items(path: Path, version: int = SCHEMA_VERSION) -> tuple[list[ItemResult], bool]:
    """Items of ``items.jsonl`` (typed, upgraded from version 1) and whether its last line was torn."""
    raw, tail_torn = raw_items(path)
    items: list[ItemResult] = []
    for n, data in raw:
        try:
            items.append(ItemResult.model_validate(upgrade_item(data) if version == 1 else data))
        except ValidationError as e:
            raise _invalid(path, "item", e, line=n) from None
    return items, tail_torn


def read_summary(run_dir: str | Path) -> Summary | None:
    path = Path(run_dir) / SUMMARY
    if not path.is_file():
        return None
    data = _read_json(path, "run summary")
    if _check_version(path, data, "run summary") == 1:
        data = upgrade_summary(data)
    try:
        return Summary.model_validate(data)
    except ValidationError as e:
        raise _invalid(path, "run summary", e) from None


def load_record(run_dir: str | Path) -> LoadedRun:
    """Read a run directory: header, items (a torn last line dropped) and the summary if written."""
    d = Path(run_dir)
    header, version = _header(d)
    items, _ = read_items(d / ITEMS, version)
    return LoadedRun.model_construct(header=header, items=items, summary=read_summary(d))


def sections_dict(model: BaseModel) -> dict[str, Any]:
    """The JSON shape of ``record.json`` and ``summary.json`` (as in version 1): absent (None) fields
    are left out, except in the summary's rows and decide/'s sections, whose Nones were always written."""
    lean = model.model_dump(mode="json", exclude_none=True)
    if isinstance(model, Summary):
        full = model.model_dump(mode="json", include={"rungs", "statistics", "costs", "decision"})
        lean.update({k: v for k, v in full.items() if v is not None})
    return lean
