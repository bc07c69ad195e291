"""Small text helpers shared by providers and metrics (no heavy imports)."""

from __future__ import annotations

import re


def json_object_end(text: str) -> int | None:
    """Index just past the first complete top-level JSON object in ``text``, or None.

    Tracks string literals and escapes so braces inside strings do not count.
    """
    start = text.find("{")
    if start < 0:
        return None
    depth = 0
    in_str = False
    esc = False
    for i in range(start, len(text)):
        c = text[i]
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def normalize(text: str) -> str:
    """Case-, whitespace- and edge-punctuation-insensitive form of an answer."""
    text = text.strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .!?;:'\"`")


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())
