"""Schema-guided decoding for local models (``decoding = "schema"``), with llguidance.

A JSON Schema is compiled once into a grammar (compact JSON: no free whitespace, so the model
spends no tokens on it); during generation a logits processor keeps one matcher per constrained
row, advances it by the token the row produced, and masks every token the grammar does not allow
next. Rows without a grammar in the same batch are left alone, so free and constrained requests
share batches. llguidance was chosen by measurement (benchmarks/README.md): no dependencies beyond
its wheel, the broadest schema coverage of the candidates, and microseconds per token mask.

Schemas it cannot compile (unsupported keywords) raise ``UnsupportedSchemaError`` naming the
keyword, at planning time, before any generation: the climb skips the variant and records why.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Sequence
from typing import Any

from tuneworth.errors import MissingDependencyError, UnsupportedSchemaError

# Compact JSON: items separated by "," and keys by ":", no whitespace between tokens.
COMPILE_OPTIONS = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def _require() -> None:
    if importlib.util.find_spec("llguidance") is None:
        raise MissingDependencyError("llguidance", "local")


@functools.lru_cache(maxsize=8)
def _tokenizer_for(tok_id: int, tokenizer: Any, n_vocab: int) -> Any:
    import llguidance.hf

    return llguidance.hf.from_tokenizer(tokenizer, n_vocab=n_vocab)


def ll_tokenizer(tokenizer: Any, n_vocab: int) -> Any:
    """llguidance's view of a Hugging Face tokenizer (about a second to build; memoised)."""
    _require()
    return _tokenizer_for(id(tokenizer), tokenizer, n_vocab)


def schema_of(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON Schema a request's ``response_format`` asks for (OpenAI's shapes), or None."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema")
        return schema if isinstance(schema, dict) else ANY_OBJECT
    if kind == "json_object":
        return ANY_OBJECT
    return None


_KEYWORD = re.compile(r"[\"'`]([$A-Za-z][A-Za-z0-9_]*)[\"'`]")


def unsupported_keyword(message: str, schema: dict[str, Any]) -> str | None:
    """Best effort: the schema keyword an llguidance error message is about."""
    text = json.dumps(schema)
    for name in _KEYWORD.findall(message):
        if f'"{name}"' in text:
            return name
    return None


@functools.lru_cache(maxsize=64)
def _compile(schema_json: str, tokenizer: Any) -> str:
    from llguidance import LLMatcher

    schema = json.loads(schema_json)
    try:
        grammar = LLMatcher.grammar_from_json_schema(schema, defaults=COMPILE_OPTIONS)  # type: ignore[arg-type]
        is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, tokenizer)
    except (ValueError, TypeError) as e:
        is_error, messages = True, [str(e)]
    if is_error:
        message = messages[0] if messages else "unknown error"
        raise UnsupportedSchemaError(message, keyword=unsupported_keyword(message, schema))
    return grammar


def compile_schema(schema: dict[str, Any], tokenizer: Any) -> str:
    """The grammar for ``schema`` (memoised); ``UnsupportedSchemaError`` when it cannot be compiled."""
    _require()
    return _compile(json.dumps(schema), tokenizer)  # key order kept: it is the order of generation


class GrammarProcessor:
    """A transformers logits processor: row i follows ``grammars[i]`` (None = unconstrained)."""

    def __init__(self, grammars: Sequence[str | None], tokenizer: Any, prompt_len: int) -> None:
        from llguidance import LLMatcher

        self.prompt_len = prompt_len
        self.matchers = [LLMatcher(tokenizer, g, log_level=0) if g else None for g in grammars]
        self.live = [m is not None for m in self.matchers]
        self._bits: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import llguidance.torch as lt
        import torch

        if input_ids.shape[1] > self.prompt_len:
            last = input_ids[:, -1].tolist()
            for i, m in enumerate(self.matchers):
                if m is None or not self.live[i]:
                    continue
                # A finished row is padded; its matcher stops (or errs) and is left alone from then on.
                if m.is_stopped() or not m.consume_token(last[i]) or m.is_stopped():
                    self.live[i] = False
        rows = [i for i, ok in enumerate(self.live) if ok]
        if not rows:
            return scores
        vocab = scores.shape[-1]
        if self._bits is None:
            self._bits = torch.full(lt.get_bitmask_shape(len(self.matchers), vocab), -1, dtype=torch.int32)
        for i in rows:
            matcher = self.matchers[i]
            assert matcher is not None
            lt.fill_next_token_bitmask(matcher, self._bits, i)
        # Bit j of word w allows token 32*w + j; little-endian bytes unpack in that order. (Not
        # llguidance's torch.compile'd kernel: compiling needs a C compiler at run time.)
        import numpy as np

        words = self._bits[rows].numpy()
        bits = np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")[:, :vocab]
        allowed = torch.from_numpy(bits.astype(bool))
        index = torch.tensor(rows, device=scores.device)
        sub = scores[index]
        sub = sub.masked_fill(~allowed.to(scores.device), float("-inf"))
        scores[index] = sub
        return scores
