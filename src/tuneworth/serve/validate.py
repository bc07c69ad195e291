"""Checks for fine-tuning files (OpenAI chat JSONL), with errors that name the example and the problem.

Modelled on OpenAI's own upload checks and the cookbook's data-preparation checks: every line a JSON
object with a non-empty ``messages`` list, known roles, string contents, known message keys, ``weight``
0 or 1, and at least one assistant message to learn from. Blank lines are skipped. The first problem
found is reported (as OpenAI does), with its example number and physical line.
"""

from __future__ import annotations

import json
from pathlib import Path

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
MESSAGE_KEYS = {"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id", "refusal"}


class FileFormatError(ValueError):
    """A fine-tuning file is malformed. ``example``/``line`` are 1-based, or None for file-level problems."""

    def __init__(self, problem: str, example: int | None = None, line: int | None = None) -> None:
        where = f"Example {example} (line {line}): " if example is not None else ""
        super().__init__(f"Invalid file format for fine-tuning. {where}{problem}")
        self.example = example
        self.line = line


def _check_message(msg: object, i: int) -> str | None:
    """The problem with message ``i`` (1-based), or None."""
    if not isinstance(msg, dict):
        return f"message {i} is a {type(msg).__name__}, expected an object with 'role' and 'content'"
    extra = sorted(set(msg) - MESSAGE_KEYS)
    if extra:
        return f"message {i} has unrecognized key(s) {', '.join(map(repr, extra))}; allowed: {', '.join(sorted(MESSAGE_KEYS))}"
    role = msg.get("role")
    if role not in ROLES:
        return f"message {i} has role {role!r}; expected one of {', '.join(ROLES)}"
    content = msg.get("content")
    has_call = bool(msg.get("tool_calls") or msg.get("function_call"))
    if content is None and not has_call:
        return f"message {i} ({role}) has no 'content'"
    if content is not None and not isinstance(content, (str, list)):
        return f"message {i} ({role}) has 'content' of type {type(content).__name__}; expected a string"
    if "weight" in msg and msg["weight"] not in (0, 1):
        return f"message {i} has weight {msg['weight']!r}; weight must be 0 or 1"
    return None


def check_example(obj: object) -> str | None:
    """The problem with one parsed line, or None when it is a valid chat example."""
    if not isinstance(obj, dict):
        return f"each line must be a JSON object, got {type(obj).__name__}"
    messages = obj.get("messages")
    if messages is None:
        keys = ", ".join(map(repr, sorted(obj))) or "none"
        return f"missing 'messages' (keys found: {keys}); each line must be {{\"messages\": [...]}}"
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for i, msg in enumerate(messages, 1):
        problem = _check_message(msg, i)
        if problem:
            return problem
    if not any(m.get("role") == "assistant" for m in messages):
        return "no assistant message: each example needs at least one assistant message to learn from"
    return None


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
        problem = check_example(obj)
        if problem:
            raise FileFormatError(problem, examples, line_no)
    if examples == 0:
        raise FileFormatError("the file has no examples; expected one JSON object per line")
    return examples


def validate_path(path: Path) -> int:
    return validate_chat_jsonl(path.read_bytes())
