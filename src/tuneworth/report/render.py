"""Write a run's report files (report.html and report.md) from its record alone.

The statistics, costs and decision are always re-derived from the record's items and header (the
source of truth; the copies in summary.json are for machines), so an older record without them
renders too, and economics overrides re-decide without touching the record. Files are written
atomically, so a failed render never leaves a half-written report.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneworth.errors import ConfigError


@dataclass
class Report:
    html: Path
    markdown: Path
    summary: dict[str, Any]


def load_analysed(run_dir: str | Path, economics_overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """(header, items, summary with statistics/costs/decision) for a finished run."""
    from tuneworth.decide.evidence import analyse
    from tuneworth.run.record import load_record

    header, items, summary = load_record(run_dir)
    if summary is None:
        raise ConfigError(
            f"{run_dir} has no summary.json (status: {header.get('status')})",
            hint="the run did not finish; its items.jsonl holds what it completed",
        )
    overrides = {k: v for k, v in (economics_overrides or {}).items() if v is not None}
    return header, items, {**summary, **analyse(header, items, summary, economics_overrides=overrides)}


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
    from tuneworth.report.html import render_html

    header, items, summary = load_analysed(run_dir, economics_overrides)
    from tuneworth.report.flips import flips_for_report

    flips = flips_for_report(header, items, summary["statistics"]) or {}
    html = render_html(header, items, summary, flips)
    md = render_decision_markdown(header, items, summary, flips)
    d = Path(run_dir)
    _write_text(d / "report.html", html)
    _write_text(d / "report.md", md)
    return Report(d / "report.html", d / "report.md", summary)
