"""Loaders for the three data formats: OpenAI chat JSONL, prompt/completion JSONL, and CSV.

Every problem is reported as a DatasetError that names the file, the line, what is wrong and how
to fix it; the loaders never let a raw JSON/CSV exception escape (fuzzed with hypothesis).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tuneworth.data.example import Example
from tuneworth.errors import DatasetError

CHAT_ROLES = {"system", "user", "assistant", "tool", "developer"}
CHAT_EXTRA_KEYS = {"tools", "parallel_tool_calls", "functions", "metadata", "id"}
PC_KEYS = {"prompt", "completion", "id", "metadata"}
INPUT_COLUMNS = ("input", "prompt", "question", "text", "query")
OUTPUT_COLUMNS = ("output", "completion", "answer", "label", "target")

_CHAT_HINT = (
    'each line must be {"messages": [{"role": "user", "content": "..."}, '
    '{"role": "assistant", "content": "..."}]}'
)


def load_examples(path: str | Path, *, require_output: bool = True) -> list[Example]:
    """Load examples from a .jsonl/.json (chat or prompt/completion), .csv or .txt file.

    With ``require_output=False`` (production samples) outputs may be absent, and .txt files
    (one query per line) are accepted.
    """
    p = Path(path)
    if not p.exists():
        raise DatasetError("file not found", path=str(p), hint="check the path in the task file")
    if p.is_dir():
        raise DatasetError("is a directory, expected a data file", path=str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DatasetError(
            f"not UTF-8 text (byte {e.start})", path=str(p), hint="save the file as UTF-8"
        ) from None
    suffix = p.suffix.lower()
    if suffix in {".jsonl", ".json", ".ndjson"}:
        examples = _load_jsonl(text, str(p), require_output)
    elif suffix == ".csv":
        examples = _load_csv(text, str(p), require_output)
    elif suffix == ".txt" and not require_output:
        examples = [
            Example(id=f"{p.name}:{i}", input=line.strip(), source=f"{p}:{i}")
            for i, line in enumerate(text.splitlines(), 1)
            if line.strip()
        ]
    else:
        raise DatasetError(
            f"unsupported file type {suffix or '(none)'!r}",
            path=str(p),
            hint="use .jsonl (chat or prompt/completion) or .csv with input/output columns",
        )
    if not examples:
        raise DatasetError("no examples found", path=str(p), hint="the file is empty")
    return examples


def _load_jsonl(text: str, path: str, require_output: bool) -> list[Example]:
    examples: list[Example] = []
    kind: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as e:
            msg = getattr(e, "msg", "too deeply nested")
            raise DatasetError(
                f"not valid JSON ({msg})", path=path, line=lineno, hint="each line must be one JSON object"
            ) from None
        if not isinstance(obj, dict):
            raise DatasetError(
                f"expected a JSON object, got {type(obj).__name__}",
                path=path,
                line=lineno,
                hint=_CHAT_HINT,
            )
        this_kind = (
            "chat" if "messages" in obj else "pc" if "prompt" in obj else "input" if "input" in obj else None
        )
        if this_kind is None:
            raise DatasetError(
                f"unknown record shape (keys: {sorted(obj)[:6]})",
                path=path,
                line=lineno,
                hint=_CHAT_HINT + ', or {"prompt": "...", "completion": "..."}',
            )
        if kind is None:
            kind = this_kind
        elif kind != this_kind:
            raise DatasetError(
                f"mixes formats: this line is {this_kind!r} but earlier lines are {kind!r}",
                path=path,
                line=lineno,
                hint="use one format per file",
            )
        if this_kind == "chat":
            examples.append(_chat_example(obj, path, lineno, require_output))
        else:
            examples.append(_pc_example(obj, path, lineno, require_output, this_kind))
    return examples


def _content_text(content: Any, path: str, lineno: int, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        for part in content
    ):
        return "".join(part["text"] for part in content)
    raise DatasetError(
        f"messages[{index}].content must be a string (or a list of text parts), got {type(content).__name__}",
        path=path,
        line=lineno,
    )


def _chat_example(obj: dict[str, Any], path: str, lineno: int, require_output: bool) -> Example:
    unknown = set(obj) - {"messages"} - CHAT_EXTRA_KEYS
    if unknown:
        raise DatasetError(
            f"unknown key(s) {sorted(unknown)}",
            path=path,
            line=lineno,
            hint=f"allowed keys: messages, {', '.join(sorted(CHAT_EXTRA_KEYS))}",
        )
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        raise DatasetError("'messages' must be a non-empty list", path=path, line=lineno, hint=_CHAT_HINT)
    turns: list[tuple[str, str]] = []
    system: str | None = None
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise DatasetError(f"messages[{i}] is not an object", path=path, line=lineno, hint=_CHAT_HINT)
        role = m.get("role")
        if "role" not in m or "content" not in m:
            missing = "role" if "role" not in m else "content"
            raise DatasetError(f"messages[{i}] has no {missing!r}", path=path, line=lineno, hint=_CHAT_HINT)
        if role not in CHAT_ROLES:
            raise DatasetError(
                f"messages[{i}] has unknown role {role!r}",
                path=path,
                line=lineno,
                hint=f"roles are {', '.join(sorted(CHAT_ROLES))}",
            )
        content = _content_text(m["content"], path, lineno, i)
        if role in {"system", "developer"}:
            if i == 0:
                system = content
                continue
            raise DatasetError(
                f"messages[{i}] is a {role} message after the start",
                path=path,
                line=lineno,
                hint="put the system prompt first",
            )
        turns.append((str(role), content))
    if require_output:
        if not turns or turns[-1][0] != "assistant":
            raise DatasetError(
                "the last message must be the assistant's ideal answer",
                path=path,
                line=lineno,
                hint='end each example with {"role": "assistant", "content": "..."}',
            )
        if not turns[-1][1].strip():
            raise DatasetError("the assistant's answer is empty", path=path, line=lineno)
        output = turns[-1][1]
        turns = turns[:-1]
    else:
        output = turns.pop()[1] if turns and turns[-1][0] == "assistant" else ""
    if not turns or turns[-1][0] != "user":
        raise DatasetError("no user message before the answer", path=path, line=lineno, hint=_CHAT_HINT)
    if not turns[-1][1].strip():
        raise DatasetError("the user message is empty", path=path, line=lineno)
    return Example(
        id=f"{Path(path).name}:{lineno}",
        input=turns[-1][1],
        output=output,
        system=system,
        history=tuple(turns[:-1]),
        source=f"{path}:{lineno}",
        meta=_metadata(obj),
    )


def _pc_example(obj: dict[str, Any], path: str, lineno: int, require_output: bool, kind: str) -> Example:
    in_key, out_key = ("prompt", "completion") if kind == "pc" else ("input", "output")
    allowed = {in_key, out_key, "id", "metadata"}
    unknown = set(obj) - allowed
    if unknown:
        raise DatasetError(
            f"unknown key(s) {sorted(unknown)}",
            path=path,
            line=lineno,
            hint=f"allowed keys: {', '.join(sorted(allowed))}",
        )
    inp = obj.get(in_key)
    out = obj.get(out_key, "")
    if not isinstance(inp, str) or not inp.strip():
        raise DatasetError(f"{in_key!r} must be a non-empty string", path=path, line=lineno)
    if require_output and (not isinstance(out, str) or not out.strip()):
        raise DatasetError(
            f"{out_key!r} must be a non-empty string", path=path, line=lineno, hint=f"add the ideal {out_key}"
        )
    if not isinstance(out, str):
        raise DatasetError(f"{out_key!r} must be a string", path=path, line=lineno)
    return Example(
        id=f"{Path(path).name}:{lineno}", input=inp, output=out, source=f"{path}:{lineno}", meta=_metadata(obj)
    )


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """The record's ``metadata`` object (e.g. gold ``sources`` for retrieval quality), kept on the Example."""
    meta = obj.get("metadata")
    return {"metadata": meta} if isinstance(meta, dict) else {}


def _load_csv(text: str, path: str, require_output: bool) -> list[Example]:
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = list(reader)
    except csv.Error as e:
        raise DatasetError(
            f"malformed CSV ({e})", path=path, hint="quote fields that contain commas"
        ) from None
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    in_col = next((header.index(c) for c in INPUT_COLUMNS if c in header), None)
    out_col = next((header.index(c) for c in OUTPUT_COLUMNS if c in header), None)
    if in_col is None or (require_output and out_col is None):
        raise DatasetError(
            f"header {rows[0]!r} has no input/output columns",
            path=path,
            line=1,
            hint="name the columns 'input' and 'output' in the first row",
        )
    examples = []
    for lineno, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DatasetError(
                f"has {len(row)} fields, the header has {len(header)}",
                path=path,
                line=lineno,
                hint="quote fields that contain commas or line breaks",
            )
        inp = row[in_col]
        out = row[out_col] if out_col is not None else ""
        if not inp.strip():
            raise DatasetError("the input is empty", path=path, line=lineno)
        if require_output and not out.strip():
            raise DatasetError("the output is empty", path=path, line=lineno, hint="add the ideal output")
        examples.append(
            Example(id=f"{Path(path).name}:{lineno}", input=inp, output=out, source=f"{path}:{lineno}")
        )
    return examples
