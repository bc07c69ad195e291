"""Terminal output: rich progress bars per rung and the results table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from tuneworth.record.schema import Summary
from tuneworth.report.format import COLUMNS, cells


class RichProgress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: Any = None

    def start(self, title: str, total: int) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(title, total=total)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def note(self, text: str) -> None:
        """Replace the bar's description (e.g. with the current training loss)."""
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def results_table(summary: Summary) -> Table:
    sizes = summary.sizes
    per_rung = summary.models is not None  # a model per rung: name each row's model
    model = "a model per rung" if per_rung else summary.model
    table = Table(title=f"{summary.task} · {model} · {summary.metric} on {sizes.get('test')} test items")
    for col in [*COLUMNS, *(["model"] if per_rung else [])]:
        table.add_column(col, justify="left" if col in ("rung", "chosen", "model") else "right")
    for row in summary.rungs:
        table.add_row(*cells(row), *([row.model or ""] if per_rung else []))
    return table
