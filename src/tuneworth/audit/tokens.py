"""Token counts for the audit: exact with the target model's tokenizer where it is on disk, else labelled estimates.

Only the tokenizer file is loaded (the Rust ``tokenizers`` library reads ``tokenizer.json`` in well under a
second); no model weights, no transformers import. Each distinct text is counted once, so a system prompt
repeated on every line costs one encode. Per-example counts follow the OpenAI cookbook: content tokens plus a
fixed overhead per message and per reply.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tuneworth.data.example import Example

OPENAI_TRAINING_CONTEXT = 65536
LOCAL_MAX_LENGTH = 512


@dataclass
class TokenCounter:
    """Counts tokens of texts. ``exact`` is False when the counts are estimates; ``label`` says which."""

    label: str
    exact: bool
    per_message: int
    per_reply: int
    _tokenizer: Any = None

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        unique = list(dict.fromkeys(texts))
        if self._tokenizer is not None:
            encs = self._tokenizer.encode_batch_fast(unique, add_special_tokens=False)
            table = {t: len(e.ids) for t, e in zip(unique, encs, strict=True)}
        else:
            table = {t: _estimate(t) for t in unique}
        return [table[t] for t in texts]

    def vocabulary_words(self) -> frozenset[str]:
        """Whole lowercase words that are single tokens (a BPE vocabulary knows common words whole)."""
        if self._tokenizer is None:
            return frozenset()
        words = set()
        for piece in self._tokenizer.get_vocab():
            w = piece[1:] if piece.startswith("Ġ") else piece
            if len(w) >= 4 and w.isalpha():
                words.add(w.lower())
        return frozenset(words)

    def count_examples(self, examples: Sequence[Example]) -> list[int]:
        """Tokens of each whole example (system + history + input + output), with message overheads."""
        texts: list[str] = []
        spans: list[int] = []
        for ex in examples:
            parts = ([ex.system] if ex.system else []) + [c for _, c in ex.history] + [ex.input]
            if ex.output:
                parts.append(ex.output)
            texts.extend(parts)
            spans.append(len(parts))
        counts = self.count_texts(texts)
        out: list[int] = []
        k = 0
        for n in spans:
            out.append(sum(counts[k : k + n]) + n * self.per_message + self.per_reply)
            k += n
        return out


_WORD = re.compile(r"\w+|[^\w\s]")


def _estimate(text: str) -> int:
    """A tokenizer-free estimate: ~1.3 tokens per word piece, at least a quarter of the characters."""
    return max(len(_WORD.findall(text)) * 13 // 10, len(text) // 4)


def _tokenizer_file(model: str) -> Path | None:
    provider, _, name = model.partition("/")
    if provider == "local" and name not in ("", "smollm2-135m"):
        path = Path(name).expanduser() / "tokenizer.json"
        return path if path.is_file() else None
    from tuneworth.models.local import cache_home

    found = sorted((cache_home() / "models").glob("smollm2-135m-*/tokenizer.json"))
    return found[0] if found else None


@lru_cache(maxsize=8)
def token_counter(model: str = "local/smollm2-135m") -> TokenCounter:
    """The best counter available offline for ``model`` (``provider/name``); loaded once per process."""
    provider = model.partition("/")[0]
    per_message, per_reply = (3, 3) if provider == "openai" else (5, 0)
    path = _tokenizer_file(model) if importlib.util.find_spec("tokenizers") else None
    if path is None:
        return TokenCounter(
            f"estimate (~1.3 tokens per word; no offline tokenizer for {model})", False, per_message, per_reply
        )
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    if provider == "local":
        label = f"exact ({'SmolLM2-135M' if 'smollm2' in str(path) else path.parent.name} tokenizer)"
        return TokenCounter(label, True, per_message, per_reply, tok)
    return TokenCounter(
        f"estimate (SmolLM2 tokenizer as a proxy; {model}'s own tokenizer is not available offline)",
        False,
        per_message,
        per_reply,
        tok,
    )


def length_limit(model: str, configured: int | None) -> tuple[int, str]:
    """The per-example token limit and where it comes from."""
    if configured:
        return configured, "audit.max_example_tokens"
    if model.startswith("openai/"):
        return OPENAI_TRAINING_CONTEXT, "OpenAI fine-tuning context"
    return LOCAL_MAX_LENGTH, "local fine-tuning max_length"
