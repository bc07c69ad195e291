"""A run directory's files as the plain JSON on disk, for tests that check what was written.

Product code reads records typed (``tuneworth.record.store.load_record``); these tests assert on the
files' exact JSON (what a v1 reader, a diff or another tool would see), so they read the dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneworth.record.errors import RecordError
from tuneworth.record.store import _check_version, _read_json, raw_items


def load_record(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """(header, items, summary or None) as the files' dicts."""
    d = Path(run_dir)
    if not (d / "record.json").is_file():
        raise RecordError(d, "not a run directory (no record.json)", hint="pass a directory under runs/")
    header = _read_json(d / "record.json", "run record")
    _check_version(d / "record.json", header, "run record")
    summary = _read_json(d / "summary.json", "run summary") if (d / "summary.json").is_file() else None
    return header, [item for _, item in raw_items(d / "items.jsonl")[0]], summary
