"""Write a run's report files (report.html and report.md) from its typed record alone.

The statistics, costs and decision are always re-derived from the record's items and header (the
source of truth; the copies in summary.json are for machines), so an older record renders with
today's statistics, and economics overrides re-decide without touching the record. Files are
written atomically, so a failed render never leaves a half-written report.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneworth.record.schema import LoadedRun, Summary


@dataclass
class Report:
    html: Path
    markdown: Path
    summary: Summary


def load_run(run_dir: str | Path) -> LoadedRun:
    """The typed record of a run directory (a corrupt or foreign file is a clear error naming it).

    TEMPORARY until ``record.store.load_record`` (helper "record") is merged: reads version-2 files.
    """
    import json

    from pydantic import ValidationError

    from tuneworth.errors import ConfigError
    from tuneworth.record.schema import ItemResult, RunHeader

    d = Path(run_dir)
    if not (d / "record.json").is_file():
        raise ConfigError(f"{d} is not a run directory (no record.json)", hint="pass a directory under runs/")
    try:
        header = RunHeader.model_validate_json((d / "record.json").read_text(encoding="utf-8"))
        items = [ItemResult.model_validate(json.loads(line)) for line in (d / "items.jsonl").read_text(encoding="utf-8").split("\n") if line.strip()]
        path = d / "summary.json"
        summary = Summary.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (ValidationError, ValueError) as e:
        raise ConfigError(f"{d}: not a run record this tuneworth reads ({str(e).splitlines()[0]})") from None
    return LoadedRun(header=header, items=items, summary=summary)


def load_analysed(run_dir: str | Path, economics_overrides: dict[str, Any] | None = None) -> tuple[LoadedRun, Summary]:
    """(the run's record, its summary with statistics/costs/decision re-derived) for a finished run."""
    from tuneworth.decide.evidence import analysed

    run = load_run(run_dir)
    return run, analysed(run, {k: v for k, v in (economics_overrides or {}).items() if v is not None})


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(run_dir: str | Path, economics_overrides: dict[str, Any] | None = None) -> Report:
    """Render report.html and report.md into ``run_dir``."""
    from tuneworth.report.decision_md import render_decision_markdown
    from tuneworth.report.flips import flips_for_report
    from tuneworth.report.html import render_html

    run, summary = load_analysed(run_dir, economics_overrides)
    assert summary.statistics is not None  # set by analysed
    flips = flips_for_report(run, summary.statistics)
    d = Path(run_dir)
    _write_text(d / "report.html", render_html(run, summary, flips))
    _write_text(d / "report.md", render_decision_markdown(run, summary, flips))
    return Report(d / "report.html", d / "report.md", summary)
