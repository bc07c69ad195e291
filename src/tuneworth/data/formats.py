"""Loaders for the three data formats: OpenAI chat JSONL, prompt/completion JSONL, and CSV.

Every problem is reported as a DatasetError that names the file, the line, what is wrong and how
to fix it; the loaders never let a raw JSON/CSV exception escape (fuzzed with hypothesis).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tuneworth.data.chat import HINT, RecordProblem, json_line, parse_chat, raise_first, read_text, to_example
from tuneworth.data.example import Example
from tuneworth.errors import DatasetError

INPUT_COLUMNS = ("input", "prompt", "question", "text", "query")
OUTPUT_COLUMNS = ("output", "completion", "answer", "label", "target")



def load_examples(path: str | Path, *, require_output: bool = True) -> list[Example]:
    """Load examples from a .jsonl/.json (chat or prompt/completion), .csv or .txt file.

    With ``require_output=False`` (production samples) outputs may be absent, and .txt files
    (one query per line) are accepted.
    """
    p = Path(path)
    text = read_text(p)
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


def record_shape(obj: dict[str, Any]) -> str | None:
    """``chat``, ``prompt-completion`` or ``input-output``; None when the keys fit none of them."""
    if "messages" in obj:
        return "chat"
    if "prompt" in obj or "completion" in obj:
        return "prompt-completion"
    if "input" in obj or "output" in obj:
        return "input-output"
    return None


def _load_jsonl(text: str, path: str, require_output: bool) -> list[Example]:
    examples: list[Example] = []
    kind: str | None = None
    name = Path(path).name
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        obj = json_line(raw, path, lineno)
        if not isinstance(obj, dict):
            raise DatasetError(
                f"expected a JSON object, got {type(obj).__name__}", path=path, line=lineno, hint=HINT
            )
        this_kind = record_shape(obj)
        if this_kind is None:
            raise DatasetError(
                f"unknown record shape (keys: {sorted(obj)[:6]})",
                path=path,
                line=lineno,
                hint=HINT + ', or {"prompt": "...", "completion": "..."}',
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
        at, source = f"{name}:{lineno}", f"{path}:{lineno}"
        if this_kind == "chat":
            example, probs = chat_example(obj, id=at, source=source, require_output=require_output)
        else:
            example, probs = pair_example(obj, this_kind, id=at, source=source, require_output=require_output)
        raise_first(probs, path, lineno)
        assert example is not None  # no error means an example
        examples.append(example)
    return examples


def chat_example(
    obj: dict[str, Any], *, id: str, source: str, require_output: bool
) -> tuple[Example | None, list[RecordProblem]]:
    """A chat record as an Example (the one chat parser, then the example rules), with every problem."""
    conv, probs = parse_chat(obj)
    if conv is None:
        return None, probs
    example, more = to_example(conv, id=id, source=source, require_output=require_output)
    return example, probs + more


def pair_example(
    obj: dict[str, Any], shape: str, *, id: str, source: str, require_output: bool
) -> tuple[Example | None, list[RecordProblem]]:
    """A prompt/completion (or input/output) record as an Example, with every problem."""
    in_key, out_key = ("prompt", "completion") if shape == "prompt-completion" else ("input", "output")
    probs: list[RecordProblem] = []
    allowed = {in_key, out_key, "id", "metadata"}
    unknown = sorted(map(str, set(obj) - allowed))
    if unknown:
        probs.append(RecordProblem("unknown_key", f"unknown key(s) {unknown}", hint=f"allowed keys: {', '.join(sorted(allowed))}"))
    values: dict[str, str] = {}
    for key, needed in ((in_key, True), (out_key, require_output)):
        hint = f"add the ideal {key}" if key == out_key else ""
        if key not in obj:
            if needed:
                probs.append(RecordProblem("missing_field", f"no {key!r}: {key!r} must be a non-empty string", hint=hint))
            continue
        v = obj[key]
        if not isinstance(v, str):
            probs.append(RecordProblem("wrong_type", f"{key!r} must be a string, got {type(v).__name__}"))
        elif not v.strip() and needed:
            probs.append(RecordProblem("empty_field", f"{key!r} must be a non-empty string (it is empty)", hint=hint))
        else:
            values[key] = v
    if probs:
        return None, probs
    return Example(id=id, input=values[in_key], output=values.get(out_key, ""), source=source, meta=_metadata(obj)), []


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
