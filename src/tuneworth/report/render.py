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
    """The typed record of a run directory (version 1 upgraded on read; a corrupt or foreign file is a
    clear error naming the file, from ``record.store``)."""
    from tuneworth.record.store import load_record

    return load_record(run_dir)


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
