"""Fine-tuning data: OpenAI chat JSONL in, token ids with an assistant-only loss mask out.

The loss mask comes from rendering the conversation one message at a time with the model's own chat
template: the text each assistant message adds (its content and end-of-turn token) is trained on,
everything else (system, user, the ``<|im_start|>assistant`` header) is context only. Examples over
``max_length`` are dropped deliberately, never silently truncated (truncation would cut the answer),
and reported by line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneworth.data.chat import read_chat_jsonl
from tuneworth.errors import DatasetError


@dataclass
class ChatExample:
    """One training conversation: its line in the file and its messages (role, content, weight)."""

    line: int
    messages: list[dict[str, Any]]


@dataclass
class Encoded:
    """Token ids and a same-length 0/1 mask of the tokens the loss is computed on."""

    line: int
    ids: list[int]
    mask: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(self.mask)


@dataclass
class EncodedSet:
    examples: list[Encoded]
    dropped: list[dict[str, int]] = field(default_factory=list)  # [{"line": n, "tokens": t}]

    @property
    def tokens(self) -> int:
        return sum(len(e.ids) for e in self.examples)


def file_fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_chat_jsonl(path: Path) -> list[ChatExample]:
    """Read and check an OpenAI chat fine-tuning file (the shared parser, ``data/chat.py``); every
    problem names file and line."""
    return [
        ChatExample(line, [{"role": m.role, "content": m.content, "weight": m.weight} for m in conv.messages])
        for line, conv in read_chat_jsonl(Path(path), for_training=True)
    ]


def _render(tok: Any, messages: list[dict[str, Any]], generation_prompt: bool = False) -> str:
    if not messages:
        return ""
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    return str(tok.apply_chat_template(plain, tokenize=False, add_generation_prompt=generation_prompt))


def segments(tok: Any, messages: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The rendered conversation as (text, trained) pieces that concatenate to the full rendering."""
    pieces: list[tuple[str, bool]] = []
    before = ""
    for i, m in enumerate(messages):
        full = _render(tok, messages[: i + 1])
        if m["role"] == "assistant":
            header = _render(tok, messages[:i], generation_prompt=True)
            if not (header.startswith(before) and full.startswith(header)):
                raise DatasetError(
                    "the model's chat template does not render conversations incrementally",
                    path="(chat template)",
                    hint="use a model whose chat template appends one message at a time (ChatML-style)",
                )
            pieces.append((header[len(before) :], False))
            pieces.append((full[len(header) :], m.get("weight", 1) == 1))
        else:
            pieces.append((full[len(before) :], False))
        before = full
    return pieces


def encode(tok: Any, examples: list[ChatExample], max_length: int) -> EncodedSet:
    """Tokenize with the assistant-only mask; drop (and list) examples over ``max_length`` tokens."""
    result = EncodedSet([])
    for ex in examples:
        pieces = segments(tok, ex.messages)
        texts = [t for t, _ in pieces]
        ids_per_piece = tok(texts, add_special_tokens=False)["input_ids"] if texts else []
        ids: list[int] = []
        mask: list[int] = []
        for (_, trained), piece_ids in zip(pieces, ids_per_piece, strict=True):
            ids.extend(piece_ids)
            mask.extend([1 if trained else 0] * len(piece_ids))
        if len(ids) > max_length:
            result.dropped.append({"line": ex.line, "tokens": len(ids)})
            continue
        result.examples.append(Encoded(ex.line, ids, mask))
    return result
