"""Transitional: the version-1 dict API over the typed record (``tuneworth.record``).

The run record now lives in ``tuneworth.record`` (``schema``, ``store``, ``upgrade``). This module
keeps the old names for readers not yet converted to the types (decide/, report/, their tests and
benchmarks): ``load_record`` reads through the typed store (validated, upgraded from version 1)
and returns plain dicts. Delete it once nothing imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneworth.record.schema import SCHEMA_VERSION
from tuneworth.record.store import RunRecord, new_run_dir, sections_dict, write_json_atomic
from tuneworth.record.store import load_record as load_typed

__all__ = ["SCHEMA_VERSION", "RunRecord", "load_record", "new_run_dir", "write_json_atomic"]


def load_record(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """(header, items, summary or None) as dicts, absent sections left out."""
    run = load_typed(run_dir)
    items = [i.model_dump(mode="json") for i in run.items]
    return sections_dict(run.header), items, sections_dict(run.summary) if run.summary else None
