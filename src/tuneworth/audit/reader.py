"""The tolerant reader: every problem in a data file, each with its line, and the usable examples.

``data/formats.py`` raises at the first error because a climb needs clean data; an audit needs the
whole list. Bytes are checked before text (binary, UTF-16, BOM, NUL, non-UTF-8, huge lines, CRLF),
then each line is parsed on its own (by the shared parsers in ``data/chat.py`` and ``data/formats.py``,
in tolerant mode), so one bad line never hides the next one. Nothing here raises
on bad content: the worst outcome is a ``Dataset`` with ``readable=False`` and the reason.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneworth.audit.model import Problem
from tuneworth.data.chat import RecordProblem
from tuneworth.data.example import Example
from tuneworth.data.formats import INPUT_COLUMNS, OUTPUT_COLUMNS, chat_example, pair_example, record_shape

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - a core dependency, but the stdlib alone is correct too
    _orjson = None  # type: ignore[assignment]

_LONG_DIGITS = re.compile(r"\d{19}")
MAX_LINE_BYTES = 8 * 1024 * 1024
_MAGIC = {
    b"PK\x03\x04": "a zip archive (xlsx/docx?)",
    b"\x1f\x8b": "gzip-compressed",
    b"%PDF": "a PDF",
    b"\x89PNG": "a PNG image",
    b"SQLite format 3": "an SQLite database",
    b"PAR1": "a Parquet file",
}


@dataclass
class Record:
    """One usable example and the line it starts on."""

    line: int
    example: Example
    obj: dict[str, Any] | None = None


@dataclass
class Dataset:
    """What the tolerant reader found in one file."""

    path: str
    format: str
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    n_lines: int = 0
    n_bytes: int = 0
    readable: bool = True

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def examples(self) -> list[Example]:
        return [r.example for r in self.records]

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def read_dataset(path: str | Path, *, require_output: bool = True) -> Dataset:
    """Read ``path`` tolerantly. ``require_output=False`` for production samples (inputs only)."""
    # Reading builds millions of small acyclic objects; the cyclic collector would scan them again and
    # again for nothing (a quarter of the reading time at 100k lines), so it pauses while we read.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(Path(path), require_output)
    finally:
        if enabled:
            gc.enable()


def _read(p: Path, require_output: bool) -> Dataset:
    ds = Dataset(path=str(p), format="unknown")
    name = p.name

    def fatal(kind: str, message: str, line: int | None = None) -> Dataset:
        ds.problems.append(Problem(kind, message, line, "error", name))
        ds.readable = False
        return ds

    if not p.exists():
        return fatal("not_found", "file not found")
    if p.is_dir():
        return fatal("is_directory", "is a directory, expected a data file")
    try:
        data = p.read_bytes()
    except OSError as e:
        return fatal("unreadable", f"cannot read the file ({e.strerror})")
    ds.n_bytes = len(data)
    if not data.strip():
        return fatal("empty_file", "the file is empty" if not data else "the file holds only whitespace")
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            return fatal("binary", f"a binary file ({what}), not text", 1)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return fatal("utf16", "UTF-16 text; save the file as UTF-8", 1)
    head = data[:8192]
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    if control > max(8, len(head) // 10):
        return fatal("binary", f"a binary file ({control} control bytes in the first {len(head)}), not text", 1)
    if data.startswith(b"\xef\xbb\xbf"):
        ds.problems.append(Problem("bom", "starts with a UTF-8 byte-order mark (BOM); some tools reject it", 1, "warning", name))
        data = data[3:]
    lines = _lines(data, ds, name)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        ds.format = "csv"
        _read_csv(lines, ds, name, require_output)
    elif suffix == ".txt" and not require_output:
        ds.format = "text"
        for i, text in enumerate(lines, 1):
            if text is not None and text.strip():
                ds.records.append(Record(i, Example(id=f"{name}:{i}", input=text.strip(), source=f"{name}:{i}")))
    else:
        _read_jsonl(lines, ds, name, require_output, data)
    if not ds.records and ds.readable:
        ds.readable = False
        if not any(pr.severity == "error" for pr in ds.problems):
            ds.problems.append(Problem("no_examples", "no examples found", None, "error", name))
    return ds


def _lines(data: bytes, ds: Dataset, name: str) -> list[str | None]:
    """Split into lines (1-based list index + 1); a line that cannot be text becomes None."""
    try:
        raw_lines: list[Any] = data.decode("utf-8").split("\n")
        decoded = True
    except UnicodeDecodeError:
        raw_lines = data.split(b"\n")
        decoded = False
    if raw_lines and raw_lines[-1] in ("", b""):
        raw_lines.pop()
    ds.n_lines = len(raw_lines)
    out: list[str | None] = []
    crlf: list[int] = []
    for i, raw in enumerate(raw_lines, 1):
        if len(raw) > MAX_LINE_BYTES:
            mb = len(raw) / 1e6
            ds.problems.append(
                Problem("line_too_long", f"line is {mb:.1f} MB (limit {MAX_LINE_BYTES / 1e6:.0f} MB): a missing newline or an embedded file?", i, "error", name)
            )
            out.append(None)
            continue
        if not decoded:
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                ds.problems.append(
                    Problem("invalid_utf8", f"not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); save the file as UTF-8", i, "error", name)
                )
                out.append(None)
                continue
        if raw.endswith("\r"):
            crlf.append(i)
            raw = raw[:-1]
        if "\x00" in raw:
            ds.problems.append(Problem("nul_bytes", f"contains NUL byte(s) (column {raw.index(chr(0)) + 1})", i, "error", name))
            out.append(None)
            continue
        out.append(raw)
    if crlf:
        ds.problems.append(
            Problem("crlf", f"Windows line endings (CRLF) on {len(crlf)} line(s); read fine, but some tools keep the \\r", crlf[0], "info", name)
        )
    return out


def _read_jsonl(lines: list[str | None], ds: Dataset, name: str, require_output: bool, data: bytes) -> None:
    ds.format = "jsonl"
    first = next((s for s in lines if s is not None and s.strip()), "")
    if first.lstrip().startswith("[") or (first.strip() == "{" and len(lines) > 1):
        whole = _whole_json(data)
        if isinstance(whole, list):
            ds.problems.append(
                Problem("json_array", f"the file is one JSON array of {len(whole)} items, not JSON Lines: write one object per line", 1, "error", name)
            )
            ds.readable = False
            return
        if isinstance(whole, dict):
            ds.problems.append(
                Problem("pretty_printed", "the file is one pretty-printed JSON object, not JSON Lines: write one object per line", 1, "error", name)
            )
            ds.readable = False
            return
    parsed: list[tuple[int, dict[str, Any]]] = []
    blank = 0
    last = len(lines)
    truncated_end = not data.endswith(b"\n")
    for i, text in enumerate(lines, 1):
        if text is None:
            continue
        if not text.strip():
            blank += 1
            continue
        try:
            obj = _loads(text)
        except json.JSONDecodeError as e:
            if i == last and truncated_end:
                ds.problems.append(Problem("truncated_last_line", f"the last line is cut off ({e.msg} at column {e.colno}, no newline at the end): was the file truncated?", i, "error", name))
            else:
                ds.problems.append(Problem("not_json", f"not valid JSON ({e.msg} at column {e.colno})", i, "error", name))
            continue
        except RecursionError:
            ds.problems.append(Problem("too_deep", "JSON nested too deeply to parse", i, "error", name))
            continue
        if not isinstance(obj, dict):
            ds.problems.append(Problem("not_object", f"expected a JSON object, got {type(obj).__name__}", i, "error", name))
            continue
        parsed.append((i, obj))
    if blank:
        ds.problems.append(Problem("blank_lines", f"{blank} blank line(s) (skipped)", None, "info", name))
    shapes = Counter(record_shape(obj) for _, obj in parsed)
    known = [(s, n) for s, n in shapes.most_common() if s is not None]
    shape = known[0][0] if known else None
    ds.format = shape or "jsonl"
    for i, obj in parsed:
        this = record_shape(obj)
        if this is None:
            ds.problems.append(Problem("unknown_shape", f"no 'messages' (chat) or 'prompt'/'completion' key; keys: {sorted(obj)[:6]}", i, "error", name))
            continue
        if this != shape:
            ds.problems.append(Problem("mixed_format", f"a {this} record in a {shape} file: use one format per file", i, "error", name))
            continue
        at = f"{name}:{i}"
        if this == "chat":
            ex, probs = chat_example(obj, id=at, source=at, require_output=require_output)
        else:
            ex, probs = pair_example(obj, this, id=at, source=at, require_output=require_output)
        ds.problems.extend(_problem(p, i, name) for p in probs)
        if ex is not None:
            ds.records.append(Record(i, ex, obj))


def _problem(p: RecordProblem, line: int, file: str) -> Problem:
    """The shared parser's problem as the audit's (the fix appended to the message)."""
    return Problem(p.kind, f"{p.message} ({p.hint})" if p.hint else p.message, line, p.severity, file)


def _loads(text: str) -> Any:
    """``json.loads``, fast: orjson parses the line, and anything it refuses goes to the stdlib.

    The stdlib has the last word, so results and messages are exactly ``json.loads``'s: it also takes
    what orjson rejects on purpose (NaN, lone surrogates, nesting over 1024). Lines with 19 or more digits
    in a row skip orjson, which reads integers over 64 bits as floats where the stdlib keeps them exact.
    """
    if _orjson is not None and not _LONG_DIGITS.search(text):
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _whole_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError):
        return None


def _read_csv(lines: list[str | None], ds: Dataset, name: str, require_output: bool) -> None:
    text = "\n".join(s if s is not None else "" for s in lines)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    in_col = out_col = None
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            ds.problems.append(Problem("csv_error", f"malformed CSV ({e})", reader.line_num, "error", name))
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if header is None:
            if not any(c.strip() for c in row):
                continue
            header = [h.strip().lower() for h in row]
            in_col = next((header.index(c) for c in INPUT_COLUMNS if c in header), None)
            out_col = next((header.index(c) for c in OUTPUT_COLUMNS if c in header), None)
            if in_col is None or (require_output and out_col is None):
                ds.problems.append(
                    Problem("csv_header", f"header {row[:6]!r} has no input/output columns (name them 'input' and 'output')", line, "error", name)
                )
                ds.readable = False
                return
            continue
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            ds.problems.append(Problem("csv_fields", f"{len(row)} fields, the header has {len(header)} (quote fields with commas)", line, "error", name))
            continue
        assert in_col is not None
        inp = row[in_col]
        out = row[out_col] if out_col is not None else ""
        bad = False
        if not inp.strip():
            ds.problems.append(Problem("empty_field", f"the {header[in_col]!r} cell is empty", line, "error", name))
            bad = True
        if require_output and not out.strip():
            ds.problems.append(Problem("empty_field", f"the {header[out_col or 0]!r} cell is empty", line, "error", name))
            bad = True
        if not bad:
            ds.records.append(Record(line, Example(id=f"{name}:{line}", input=inp, output=out, source=f"{name}:{line}")))
