"""The one chat parser: an OpenAI-style ``{"messages": [...]}`` record -> a typed ``Conversation``.

Data loading, fine-tuning, the audit and the server's upload checks all read chat JSONL through
``parse_chat`` (one role set, one set of checks). The parser is tolerant by construction: it returns
every problem it found as a ``RecordProblem`` (a stable ``kind`` for the audit, a message, a severity, the
fix), and strict callers raise the first error (``raise_first``) with the file and line. What an
*evaluation example* needs on top of a valid conversation (the assistant's answer last, a user message
before it, the system prompt first) is checked by ``to_example``; a training conversation only needs one
assistant message to learn from (``for_training=True``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from tuneworth.data.example import Example
from tuneworth.errors import DatasetError

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
"""OpenAI's chat roles (``function`` is the legacy name of ``tool``); ``developer`` acts as ``system``."""
TOP_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions", "metadata", "id"})
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "function_call", "tool_call_id", "refusal"}
)
_ROLE_SET = frozenset(ROLES)
_SYSTEM = frozenset({"system", "developer"})
HINT = (
    'each line must be {"messages": [{"role": "user", "content": "..."}, '
    '{"role": "assistant", "content": "..."}]}'
)

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """One thing wrong with a record: ``kind`` is stable (the audit groups by it), ``hint`` is the fix."""

    kind: str
    message: str
    severity: Severity = "error"
    hint: str = ""


_new_message = tuple.__new__  # builds a Message from a 3-tuple without NamedTuple's Python-level __new__


class Message(NamedTuple):
    """One message: its text (text parts joined; "" for a tool call without content) and loss weight.
    A NamedTuple: the audit builds one per message of every line, and a tuple is the cheapest record."""

    role: str
    content: str
    weight: int = 1


class Conversation(NamedTuple):
    """A checked chat record."""

    messages: tuple[Message, ...]
    metadata: dict[str, Any] | None = None

    @property
    def trained(self) -> bool:
        """Whether some assistant message is trained on (weight 1)."""
        return any(m.role == "assistant" and m.weight == 1 for m in self.messages)


def content_text(content: Any) -> str | None:
    """The text of a message's content (a string, or a list of text parts); None if it is neither."""
    if content.__class__ is str:
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content
    ):
        return "".join(p["text"] for p in content)
    return None


def _clip(value: Any, n: int = 60) -> str:
    s = repr(value)
    return s if len(s) <= n else s[: n - 3] + "..."


def _message(m: Any, i: int, probs: list[RecordProblem]) -> Message | None:
    """Check message ``i``; append its problems; the Message when it is usable."""
    if not isinstance(m, dict):
        probs.append(RecordProblem("message_not_object", f"messages[{i}] is {type(m).__name__}, not an object", hint=HINT))
        return None
    if not MESSAGE_KEYS.issuperset(m):
        extra = sorted(map(str, m.keys() - MESSAGE_KEYS))
        probs.append(
            RecordProblem(
                "unknown_message_key",
                f"messages[{i}] has unrecognized key(s) {extra}",
                hint=f"allowed: {', '.join(sorted(MESSAGE_KEYS))}",
            )
        )
    if "role" not in m:
        probs.append(RecordProblem("missing_role", f"messages[{i}] has no 'role'", hint=HINT))
        return None
    role = m["role"]
    if not isinstance(role, str) or role not in _ROLE_SET:  # a list or dict is not hashable
        probs.append(
            RecordProblem("unknown_role", f"messages[{i}] has unknown role {_clip(role)}", hint=f"roles are {', '.join(ROLES)}")
        )
        return None
    weight = m.get("weight", 1)
    if isinstance(weight, bool) or weight not in (0, 1):
        probs.append(RecordProblem("bad_weight", f"messages[{i}] has weight {_clip(weight)}; weight must be 0 or 1"))
        return None
    content = m.get("content")
    if content is None:
        if m.get("tool_calls") or m.get("function_call"):
            return Message(role, "", int(weight))
        probs.append(RecordProblem("missing_content", f"messages[{i}] ({role}) has no 'content'", hint=HINT))
        return None
    text = content_text(content)
    if text is None:
        probs.append(
            RecordProblem(
                "content_type",
                f"messages[{i}].content must be a string (or a list of text parts), got {type(content).__name__}",
            )
        )
        return None
    if not text.strip():
        what = {"assistant": "the assistant's answer is empty", "user": "the user message is empty"}.get(role, "")
        probs.append(
            RecordProblem("empty_content", f"messages[{i}] ({role}) has empty content" + (f": {what}" if what else ""))
        )
    return Message(role, text, int(weight))


def parse_chat(obj: Any, *, for_training: bool = False) -> tuple[Conversation | None, list[RecordProblem]]:
    """Check one parsed JSONL record; return the Conversation (None if any error) and every problem.

    ``for_training``: the record must have an assistant message with weight 1 (something to learn).
    """
    probs: list[RecordProblem] = []
    if not isinstance(obj, dict):
        return None, [RecordProblem("not_object", f"expected a JSON object, got {type(obj).__name__}", hint=HINT)]
    if "messages" not in obj:
        keys = ", ".join(map(repr, sorted(map(str, obj)))) or "none"
        return None, [RecordProblem("no_messages", f"missing 'messages' (keys found: {keys})", hint=HINT)]
    if not TOP_KEYS.issuperset(obj):
        probs.append(
            RecordProblem(
                "unknown_key",
                f"unknown key(s) at the top level {sorted(map(str, obj.keys() - TOP_KEYS))}",
                hint=f"allowed keys: {', '.join(sorted(TOP_KEYS))}",
            )
        )
    raw = obj["messages"]
    if not isinstance(raw, list):
        probs.append(RecordProblem("messages_not_list", f"'messages' must be a non-empty list, got {type(raw).__name__}", hint=HINT))
        return None, probs
    if not raw:
        probs.append(RecordProblem("empty_messages", "'messages' must be a non-empty list, got an empty one", hint=HINT))
        return None, probs
    messages: list[Message] = []
    for i, m in enumerate(raw):
        if m.__class__ is dict and len(m) == 2:  # fast path: exactly a known role and non-empty text
            role, content = m.get("role"), m.get("content")
            if role.__class__ is str and content.__class__ is str and role in _ROLE_SET and content.strip():
                messages.append(_new_message(Message, (role, content, 1)))
                continue
        message = _message(m, i, probs)
        if message is not None:
            messages.append(message)
    if probs and any(p.severity == "error" for p in probs):
        return None, probs
    meta = obj.get("metadata")
    conv = Conversation(tuple(messages), meta if isinstance(meta, dict) else None)
    if for_training and not conv.trained:
        probs.append(
            RecordProblem(
                "no_assistant",
                "no assistant message with weight 1: there is nothing to learn from this example",
                hint='add the ideal answer as the last message, with role "assistant"',
            )
        )
        return None, probs
    return conv, probs


def to_example(
    conv: Conversation, *, id: str, source: str, require_output: bool
) -> tuple[Example | None, list[RecordProblem]]:
    """An evaluation Example from a conversation: system first, then turns, the last user message is
    the input and a final assistant message the output (required unless ``require_output`` is False)."""
    msgs = conv.messages
    start = 1 if msgs and msgs[0].role in _SYSTEM else 0
    late = [
        RecordProblem("system_not_first", f"messages[{i}] is a {m.role} message after the start", hint="put the system prompt first")
        for i, m in enumerate(msgs[start:], start)
        if m.role in _SYSTEM
    ]
    if late:
        return None, late
    end = len(msgs)
    output = ""
    if end > start and msgs[-1].role == "assistant":
        end -= 1
        output = msgs[-1].content
    elif require_output:
        roles = [m.role for m in msgs[start:]]
        kind, what = ("last_not_assistant", f"the last message is {roles[-1]!r}") if "assistant" in roles else ("no_assistant", "no assistant message")
        hint = 'end each example with {"role": "assistant", "content": "..."}'
        return None, [RecordProblem(kind, f"{what}: the last message must be the assistant's ideal answer", hint=hint)]
    if end == start or msgs[end - 1].role != "user":
        return None, [RecordProblem("no_user", "no user message before the answer", hint=HINT)]
    return Example(
        id=id,
        input=msgs[end - 1].content,
        output=output,
        system=msgs[0].content if start else None,
        history=tuple((m.role, m.content) for m in msgs[start : end - 1]),
        source=source,
        meta={"metadata": conv.metadata} if conv.metadata is not None else {},
    ), []


def raise_first(problems: list[RecordProblem], path: str, line: int) -> None:
    """Strict mode: the first error as a DatasetError naming file and line (warnings pass)."""
    for p in problems:
        if p.severity == "error":
            raise DatasetError(p.message, path=path, line=line, hint=p.hint or None)


def json_line(raw: str, path: str, line: int) -> Any:
    """One JSONL line parsed, or a DatasetError naming file and line."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as e:
        msg = getattr(e, "msg", "too deeply nested")
        raise DatasetError(f"not valid JSON ({msg})", path=path, line=line, hint="each line must be one JSON object") from None


def read_text(path: Path, hint: str = "check the path in the task file") -> str:
    """A data file's UTF-8 text, or a DatasetError that says what is wrong with the file."""
    if not path.exists():
        raise DatasetError("file not found", path=str(path), hint=hint)
    if path.is_dir():
        raise DatasetError("is a directory, expected a data file", path=str(path))
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DatasetError(f"not UTF-8 text (byte {e.start})", path=str(path), hint="save the file as UTF-8") from None


def read_chat_jsonl(path: Path, *, for_training: bool = True) -> list[tuple[int, Conversation]]:
    """Strict reader of a chat JSONL file (fine-tuning files): (line, conversation) pairs; the first
    problem raises a DatasetError naming file and line."""
    text = read_text(Path(path), hint="run `tuneworth prepare TASK -o DIR` first")
    out: list[tuple[int, Conversation]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        conv, probs = parse_chat(json_line(raw, str(path), lineno), for_training=for_training)
        raise_first(probs, str(path), lineno)
        assert conv is not None  # no error means a conversation
        out.append((lineno, conv))
    if not out:
        raise DatasetError("no examples found", path=str(path), hint="the file is empty")
    return out
