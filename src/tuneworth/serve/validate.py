"""Checks for fine-tuning uploads (OpenAI chat JSONL), with errors that name the example and the problem.

The rules are the shared chat parser's (``data/chat.py``, ``for_training=True``): every line a JSON
object with a non-empty ``messages`` list, known keys and roles, text contents, ``weight`` 0 or 1, and an
assistant message to learn from. Blank lines are skipped. As OpenAI's upload check does, the first
problem found is reported, in OpenAI's words ("Invalid file format for fine-tuning. Example N (line L): ...").
"""

from __future__ import annotations

import json

from tuneworth.data.chat import parse_chat


class FileFormatError(ValueError):
    """A fine-tuning file is malformed. ``example``/``line`` are 1-based, or None for file-level problems."""

    def __init__(self, problem: str, example: int | None = None, line: int | None = None) -> None:
        where = f"Example {example} (line {line}): " if example is not None else ""
        super().__init__(f"Invalid file format for fine-tuning. {where}{problem}")
        self.example = example
        self.line = line


def check_example(obj: object) -> str | None:
    """The first problem with one parsed line (and its fix), or None when it is a valid chat example."""
    _, problems = parse_chat(obj, for_training=True)
    first = next((p for p in problems if p.severity == "error"), None)
    if first is None:
        return None
    return f"{first.message} ({first.hint})" if first.hint else first.message


def validate_chat_jsonl(data: bytes) -> int:
    """Validate a whole file's bytes; returns the number of examples or raises ``FileFormatError``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"the file is not UTF-8 text (invalid byte at offset {e.start})") from None
    examples = 0
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        examples += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise FileFormatError(f"invalid JSON ({e.msg} at column {e.colno})", examples, line_no) from None
        except RecursionError:
            raise FileFormatError("invalid JSON (nested too deeply)", examples, line_no) from None
        problem = check_example(obj)
        if problem:
            raise FileFormatError(problem, examples, line_no)
    if examples == 0:
        raise FileFormatError("the file has no examples; expected one JSON object per line")
    return examples
