"""Turn a model's raw text into an answer of the task's kind (text, label, JSON).

Chain-of-thought answers are parsed from the text after the last ``Answer:`` marker (JSON answers
fall back to the last JSON object in the text), so reasoning never counts against the answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tuneworth.data.text import json_object_end, normalize

ANSWER_MARKER = re.compile(r"(?im)^\s*\**\s*(?:final\s+)?answer\s*\**\s*[:：]\s*")
FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


@dataclass(frozen=True)
class Parsed:
    value: Any
    ok: bool
    reason: str = ""


def extract_final(text: str) -> str:
    """The part of a chain-of-thought answer after its last ``Answer:`` line (or the whole text)."""
    matches = list(ANSWER_MARKER.finditer(text))
    return text[matches[-1].end() :].strip() if matches else text


def parse_text(text: str) -> Parsed:
    return Parsed(text.strip(), bool(text.strip()), "" if text.strip() else "empty answer")


def parse_label(text: str, labels: list[str]) -> Parsed:
    norm = normalize(text)
    by_norm = {normalize(lab): lab for lab in labels}
    if norm in by_norm:
        return Parsed(by_norm[norm], True)
    for n, lab in by_norm.items():
        if re.match(rf"{re.escape(n)}\b", norm):
            return Parsed(lab, True)
    found = {lab for n, lab in by_norm.items() if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", norm)}
    if len(found) == 1:
        return Parsed(found.pop(), True)
    if found:
        return Parsed(None, False, f"ambiguous: mentions {sorted(found)}")
    return Parsed(None, False, "no label from the label set")


def find_json_objects(text: str) -> list[str]:
    """Candidate JSON object substrings: fenced blocks first, then brace-balanced spans."""
    out = [m.group(1).strip() for m in FENCE.finditer(text)]
    pos = 0
    while True:
        start = text.find("{", pos)
        if start < 0:
            break
        end = json_object_end(text[start:])
        if end is None:
            break
        out.append(text[start : start + end])
        pos = start + end
    return out


def parse_json(text: str, *, last: bool = False) -> Parsed:
    candidates = find_json_objects(text)
    if last:
        candidates.reverse()
    for cand in candidates:
        try:
            value = json.loads(cand)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, dict):
            return Parsed(value, True)
    return Parsed(None, False, "no JSON object" if not candidates else "invalid JSON")


def parse_answer(text: str, kind: str, labels: list[str] | None = None, *, cot: bool = False) -> Parsed:
    """Parse ``text`` as an answer of ``kind`` (``text``, ``label``, ``json``)."""
    final = extract_final(text) if cot else text
    if kind == "label":
        return parse_label(final, labels or [])
    if kind == "json":
        parsed = parse_json(final)
        if not parsed.ok and cot:
            parsed = parse_json(text, last=True)
        return parsed
    return parse_text(final)
