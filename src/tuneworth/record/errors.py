"""The one error a run record raises: a file that is not (or no longer) a readable run record.

A ``ConfigError`` subclass, so the CLI shows it as a message with its fix (exit code 2), never a
traceback; the message always names the file, and the line for ``items.jsonl``.
"""

from __future__ import annotations

from pathlib import Path

from tuneworth.errors import ConfigError


class RecordError(ConfigError):
    """A run directory's file is corrupt, foreign, or from a newer tuneworth."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, hint: str | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = str(path)
        self.line = line
