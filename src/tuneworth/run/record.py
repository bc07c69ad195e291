"""Transitional: the version-1 dict API, for readers not yet converted to the typed record.

The run record lives in ``tuneworth.record`` (``schema``, ``store``, ``upgrade``); new code reads it
with ``tuneworth.record.store.load_record`` (validated, typed, upgraded from version 1). This module
keeps the old names for decide/, report/, their tests and benchmarks until they read the types:
``load_record`` returns the files' JSON as dicts, as before (corrupt JSON, a non-object, a schema
version from the future and bad ``items.jsonl`` lines are still ``RecordError``s naming the file).
Delete it once nothing imports it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tuneworth.record.errors import RecordError
from tuneworth.record.schema import SCHEMA_VERSION
from tuneworth.record.store import RunRecord, _check_version, _read_json, new_run_dir, write_json_atomic

__all__ = ["SCHEMA_VERSION", "RunRecord", "load_record", "new_run_dir", "write_json_atomic"]


def _items(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    lines = path.read_bytes().split(b"\n")  # "\n" only: U+2028 inside an item is not a line break
    torn = lines[-1] != b""
    out: list[dict[str, Any]] = []
    for n, raw in enumerate(lines if torn else lines[:-1], start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError as e:
            if torn and n == len(lines):
                break  # a torn last line from a crash
            raise RecordError(path, f"corrupt item ({e})", line=n) from None
        if not isinstance(item, dict):
            raise RecordError(path, f"corrupt item (JSON {type(item).__name__}, not an object)", line=n)
        out.append(item)
    return out


def load_record(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """(header, items, summary or None) as the files' dicts."""
    d = Path(run_dir)
    if not (d / "record.json").is_file():
        raise RecordError(d, "not a run directory (no record.json)", hint="pass a directory under runs/")
    header = _read_json(d / "record.json", "run record")
    _check_version(d / "record.json", header, "run record")
    summary = _read_json(d / "summary.json", "run summary") if (d / "summary.json").is_file() else None
    return header, _items(d / "items.jsonl"), summary
