"""Format rules for one parsed JSONL record: OpenAI chat, prompt/completion, or input/output.

Unlike ``data/formats.py`` (which stops at the first error), every rule runs and every violation is
collected, so one pass over a file lists all of its problems. A record with no error-level problem
becomes an ``Example``.
"""

from __future__ import annotations

from typing import Any

from tuneworth.audit.model import Problem
from tuneworth.data.example import Example

ROLES = {"system", "user", "assistant", "tool", "developer", "function"}
TOP_KEYS = {"messages", "tools", "parallel_tool_calls", "functions", "metadata", "id"}
MESSAGE_KEYS = {"role", "content", "name", "weight", "tool_calls", "function_call", "tool_call_id", "refusal"}
_TOP_OK = frozenset(TOP_KEYS).issuperset
_MESSAGE_OK = frozenset(MESSAGE_KEYS).issuperset
PAIR_KEYS = {"prompt": "completion", "input": "output"}


def record_shape(obj: dict[str, Any]) -> str | None:
    """``chat``, ``prompt-completion`` or ``input-output``; None when the keys fit none of them."""
    if "messages" in obj:
        return "chat"
    if "prompt" in obj or "completion" in obj:
        return "prompt-completion"
    if "input" in obj or "output" in obj:
        return "input-output"
    return None


def _text(content: Any) -> str | None:
    """The text of a message's content (a string, or a list of text parts); None if it is neither."""
    if content.__class__ is str:
        return content
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content
    ):
        return "".join(p["text"] for p in content)
    return None


def _clip(value: Any, n: int = 60) -> str:
    s = repr(value)
    return s if len(s) <= n else s[: n - 3] + "..."


def check_chat(
    obj: dict[str, Any], line: int, file: str, source: str, require_output: bool
) -> tuple[Example | None, list[Problem]]:
    """Apply the chat rules to one record; return its Example (if usable) and every problem."""
    probs: list[Problem] = []

    def err(kind: str, msg: str, severity: str = "error") -> None:
        probs.append(Problem(kind, msg, line, severity, file))  # type: ignore[arg-type]

    unknown = () if _TOP_OK(obj) else obj.keys() - TOP_KEYS
    if unknown:
        err("unknown_key", f"unknown top-level key(s) {sorted(unknown)}; allowed: {', '.join(sorted(TOP_KEYS))}")
    messages = obj.get("messages")
    if not isinstance(messages, list):
        err("messages_not_list", f"'messages' must be a list, got {type(messages).__name__}")
        return None, probs
    if not messages:
        err("empty_messages", "'messages' is empty")
        return None, probs
    turns: list[tuple[str, str]] = []
    system: str | None = None
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            err("message_not_object", f"messages[{i}] is {type(m).__name__}, not an object")
            continue
        bad_keys = () if _MESSAGE_OK(m) else m.keys() - MESSAGE_KEYS
        if bad_keys:
            err("unknown_message_key", f"messages[{i}] has unknown key(s) {sorted(bad_keys)}")
        role = m.get("role")
        if "role" not in m:
            err("missing_role", f"messages[{i}] has no 'role'")
            continue
        if not isinstance(role, str) or role not in ROLES:  # a list or dict is not hashable
            err("unknown_role", f"messages[{i}] has unknown role {_clip(role)}; roles: {', '.join(sorted(ROLES))}")
            continue
        if "content" not in m or m["content"] is None:
            if m.get("tool_calls") or m.get("function_call"):
                turns.append((role, ""))
                continue
            err("missing_content", f"messages[{i}] ({role}) has no 'content'")
            continue
        text = _text(m["content"])
        if text is None:
            err(
                "content_type",
                f"messages[{i}].content must be a string or a list of text parts, got {type(m['content']).__name__}",
            )
            continue
        if not text.strip():
            err("empty_content", f"messages[{i}] ({role}) has empty content")
        if role == "system" or role == "developer":
            if i == 0:
                system = text
            else:
                err("system_not_first", f"messages[{i}] is a {role} message after the start", "warning")
            continue
        turns.append((str(role), text))
    roles = [r for r, _ in turns]
    if probs and any(p.severity == "error" for p in probs):
        return None, probs  # the role-order rules would only repeat a broken message's problem
    if require_output:
        if "assistant" not in roles:
            err("no_assistant", "no assistant message: nothing to learn from this example")
        elif roles[-1] != "assistant":
            err("last_not_assistant", f"the last message is {roles[-1]!r}, not the assistant's answer")
    if "user" not in roles:
        err("no_user", "no user message")
    if probs and any(p.severity == "error" for p in probs):
        return None, probs
    output = turns.pop()[1] if turns and turns[-1][0] == "assistant" else ""
    while turns and turns[-1][0] != "user":
        turns.pop()
    if not turns:
        return None, probs
    example = Example(
        id=f"{source}:{line}",
        input=turns[-1][1],
        output=output,
        system=system,
        history=tuple(turns[:-1]),
        source=f"{file}:{line}",
    )
    return example, probs


def check_pair(
    obj: dict[str, Any], shape: str, line: int, file: str, source: str, require_output: bool
) -> tuple[Example | None, list[Problem]]:
    """Apply the prompt/completion (or input/output) rules to one record."""
    in_key = "prompt" if shape == "prompt-completion" else "input"
    out_key = PAIR_KEYS[in_key]
    probs: list[Problem] = []
    allowed = {in_key, out_key, "id", "metadata"}
    unknown = sorted(set(obj) - allowed)
    if unknown:
        probs.append(Problem("unknown_key", f"unknown key(s) {unknown}; allowed: {', '.join(sorted(allowed))}", line, "error", file))
    values: dict[str, str] = {}
    for key, needed in ((in_key, True), (out_key, require_output)):
        if key not in obj:
            if needed:
                probs.append(Problem("missing_field", f"no {key!r}", line, "error", file))
            continue
        v = obj[key]
        if not isinstance(v, str):
            probs.append(Problem("wrong_type", f"{key!r} must be a string, got {type(v).__name__}", line, "error", file))
        elif not v.strip() and needed:
            probs.append(Problem("empty_field", f"{key!r} is empty", line, "error", file))
        else:
            values[key] = v
    if any(p.severity == "error" for p in probs) or in_key not in values:
        return None, probs
    return Example(
        id=f"{source}:{line}", input=values[in_key], output=values.get(out_key, ""), source=f"{file}:{line}"
    ), probs
