"""The judge's rubric: read from the task file (inline or a file) and checked when the task loads, before
any model call (here in config/, since checking the task file needs it; the judge reads the text).

A pointwise rubric must spell out its scale, one line per score (``5: ...`` down to ``1: ...``):
a judge asked for "a score" without anchors drifts, and two judges cannot be compared.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from tuneworth.errors import ConfigError

if TYPE_CHECKING:
    from tuneworth.config.task import Task

SCALE = (1, 2, 3, 4, 5)
# "5: ...", "- 4 = ...", "**3** - ...", "2) ...", "Score 1: ..." at the start of a line.
_SCALE_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:score\s*)?\**\s*([1-5])\s*\**\s*(?:[:=).\-–—]|points?\b)", re.I | re.M)


def scale_levels(text: str) -> set[int]:
    """Scores 1-5 that have their own line in the rubric."""
    return {int(m) for m in _SCALE_LINE.findall(text)}


def load_rubric(task: Task, file: Path | None = None) -> str:
    """The rubric text; raises ConfigError naming the task file (or the rubric file) and the fix."""
    j = task.judge
    where = f"{file}: judge.rubric" if file else "judge.rubric"
    if j.rubric is not None and j.rubric_file is not None:
        raise ConfigError(f"{where}: give judge.rubric or judge.rubric_file, not both")
    if j.rubric_file is not None:
        path = task.resolve(j.rubric_file)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{file}: judge.rubric_file = {j.rubric_file!r}: file not found",
                hint="paths are relative to the task file",
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: the rubric is not UTF-8 text") from None
    else:
        text = j.rubric or ""
    if not text.strip():
        raise ConfigError(
            f"{where}: the rubric is empty" if j.rubric is not None or j.rubric_file else
            f"{file}: metric = \"judge\" needs a rubric (judge.rubric or judge.rubric_file)",
            hint="describe what a good answer looks like and what each score 1-5 means, one line per score",
        )
    if j.mode == "pointwise":
        missing = sorted(set(SCALE) - scale_levels(text))
        if missing:
            raise ConfigError(
                f"{where}: the rubric has no 1-5 scale (no line for score {', '.join(map(str, missing))})",
                hint='write one line per score, from "5: <what a 5 looks like>" down to "1: ..."',
            )
    return text.strip()
