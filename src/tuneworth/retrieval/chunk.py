"""Token chunking with overlap that respects headings and paragraphs.

A document is cut into sections at headings (a heading always starts a new chunk, and its text
travels with every chunk of its section as ``section``). Inside a section, a chunk holds at most
``max_tokens`` tokens and ends, where it can, at a paragraph break (else a sentence end, else
anywhere); the next chunk starts ``overlap`` tokens before the previous one ended. A chunk's text is
an exact slice of the document, so every character outside whitespace is in some chunk (the
hypothesis tests check this) and a chunk can always be traced back to its position.

The tokenizer is a parameter returning token character spans: the embedding model's own tokenizer in
production (so chunks fit its input limit), a regular expression when no tokenizer is available.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# tokenize(text) -> [(start, end), ...] character spans of tokens, in order, non-overlapping.
Tokenizer = Callable[[str], list[tuple[int, int]]]

_WORDISH = re.compile(r"\w+|[^\w\s]")
_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s)")


def regex_tokenizer(text: str) -> list[tuple[int, int]]:
    """Words and single punctuation marks: a tokenizer-free approximation (~1.3 per English word)."""
    return [m.span() for m in _WORDISH.finditer(text)]


@dataclass(frozen=True)
class Chunk:
    """A slice ``text == document[start:end]`` of one document, with where it came from."""

    source: str  # document id: path relative to the docs directory (``file.jsonl#id`` for records)
    index: int  # position of the chunk within its document
    start: int  # character offsets into the extracted document text
    end: int
    text: str
    section: str = ""  # the heading path above the chunk ("Refunds > Electronics")
    tokens: int = 0

    @property
    def id(self) -> str:
        return f"{self.source}#{self.index}"

    def embed_text(self) -> str:
        """What gets embedded and indexed: the heading path gives a short chunk its topic."""
        if self.section and not self.text.lstrip().startswith("#"):
            return f"{self.section}\n{self.text}"
        return self.text


def sections(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, heading path)`` spans: a new section at every Markdown heading line.

    A heading with nothing under it but another heading (``# Title`` then ``## Part``) joins the next
    section, so no chunk is a bare title.
    """
    bounds: list[tuple[int, int, str]] = [(0, 0, "")]  # (start, end of the heading line, path)
    stack: list[tuple[int, str]] = []
    for m in _HEADING.finditer(text):
        level, title = len(m.group(1)), m.group(2).strip()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        bounds.append((m.start(), m.end(), " > ".join(t for _, t in stack)))
    out: list[tuple[int, int, str]] = []
    pending: int | None = None  # start of a heading-only section waiting to join the next one
    for i, (start, head_end, path) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else len(text)
        begin = start if pending is None else pending
        if not text[head_end:end].strip() and i + 1 < len(bounds):
            pending = begin if text[start:end].strip() or pending is not None else None
            continue
        pending = None
        if text[begin:end].strip():
            out.append((begin, end, path))
    return out


def _break_scores(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """For each token boundary i (a chunk may end before token i): 2 paragraph, 1 sentence or line, 0 none."""
    sentence_ends = {m.end() for m in _SENTENCE_END.finditer(text)}
    scores = [0] * (len(spans) + 1)
    for i in range(1, len(spans)):
        prev_end = spans[i - 1][1]
        gap = text[prev_end : spans[i][0]]
        if _PARAGRAPH_BREAK.search(gap):
            scores[i] = 2
        elif "\n" in gap or (gap and prev_end in sentence_ends):
            scores[i] = 1
    scores[len(spans)] = 2
    return scores


def chunk_text(
    text: str,
    source: str,
    *,
    max_tokens: int = 128,
    overlap: int = 24,
    tokenize: Tokenizer = regex_tokenizer,
) -> list[Chunk]:
    """Cut ``text`` into overlapping chunks of at most ``max_tokens`` tokens (see module docstring)."""
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    if not 0 <= overlap <= max_tokens // 2:
        raise ValueError("overlap must be between 0 and max_tokens // 2")
    chunks: list[Chunk] = []
    for sec_start, sec_end, path in sections(text):
        body = text[sec_start:sec_end]
        spans = tokenize(body)
        if not spans:
            continue
        scores = _break_scores(body, spans)
        n = len(spans)
        s = 0
        while True:
            limit = min(n, s + max_tokens)
            e = limit
            if limit < n:
                # Prefer the latest paragraph break, then sentence end, in the back half of the window.
                floor = s + max(overlap + 1, max_tokens // 2)
                for want in (2, 1):
                    best = next((i for i in range(limit, floor - 1, -1) if scores[i] >= want), None)
                    if best is not None:
                        e = best
                        break
            a, b = spans[s][0], spans[e - 1][1]
            chunks.append(
                Chunk(source, len(chunks), sec_start + a, sec_start + b, body[a:b], path, e - s)
            )
            if e >= n:
                break
            s = e - overlap
    return chunks
