"""Schema-guided decoding for local models (``decoding = "schema"``), with llguidance.

A JSON Schema is compiled once into a grammar (compact JSON: no free whitespace, so the model
spends no tokens on it); during generation a logits processor keeps one matcher per constrained
row, advances it by the token the row produced, and masks every token the grammar does not allow
next. Rows without a grammar in the same batch are left alone, so free and constrained requests
share batches. llguidance was chosen by measurement (benchmarks/README.md): no dependencies beyond
its wheel, the broadest schema coverage of the candidates, and microseconds per token mask.

The grammar guarantees that every token is allowed, not that the object ends within ``max_tokens``:
a small model filling string slots can run out of budget mid-string, and a cut object does not
parse. So in each row's last ``CLOSE_RESERVE`` tokens, whenever one or two tokens made only of
closing characters (``"``, ``}``, ``]``) complete the answer, only those first tokens are allowed:
the open string and objects end before the budget does (``closing_path``).

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
CLOSE_RESERVE = 6  # a row's last tokens in which closing tokens are preferred whenever allowed
_CLOSERS = frozenset(b'"}]')


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


@functools.lru_cache(maxsize=8)
def closing_tokens(tokenizer: Any) -> tuple[int, ...]:
    """Ids of the tokens made only of ``"``, ``}`` and ``]`` (memoised per llguidance tokenizer)."""
    out = []
    for i in range(tokenizer.vocab_size):
        if tokenizer.is_special_token(i):
            continue
        b = tokenizer.decode_bytes([i])
        if b and set(b) <= _CLOSERS:
            out.append(i)
    return tuple(out)


def closing_path(matcher: Any, allowed: Sequence[int], closers: Sequence[int]) -> list[int]:
    """The allowed closing tokens after which the grammar accepts (the answer is complete), else those
    after which one more closing token completes it; [] when two closing tokens cannot finish it (the
    model then goes on unrestricted). The matcher is left as it was (each probe is rolled back)."""

    def accepts_after(token: int) -> bool:
        if matcher.try_consume_tokens([token]) != 1:
            return False
        ok = bool(matcher.is_accepting())
        matcher.rollback(1)
        return ok

    done = [t for t in allowed if accepts_after(t)]
    if done:
        return done
    two = []
    for t in allowed:
        if matcher.try_consume_tokens([t]) != 1:
            continue
        if any(accepts_after(t2) for t2 in closers):
            two.append(t)
        matcher.rollback(1)
    return two


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

    def __init__(
        self,
        grammars: Sequence[str | None],
        tokenizer: Any,
        prompt_len: int,
        limits: Sequence[int] | None = None,
    ) -> None:
        from llguidance import LLMatcher

        self.prompt_len = prompt_len
        # Each row's max_tokens: in its last CLOSE_RESERVE steps closing tokens win (module docstring).
        self.limits = list(limits) if limits is not None else None
        self._closers: Any = None
        self._tokenizer = tokenizer
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
        if self.limits is not None:
            n_new = input_ids.shape[1] - self.prompt_len
            closing = [k for k, i in enumerate(rows) if self.limits[i] - n_new <= CLOSE_RESERVE]
            if closing:
                if self._closers is None:
                    self._closers = torch.zeros(vocab, dtype=torch.bool)
                    ids = [t for t in closing_tokens(self._tokenizer) if t < vocab]
                    self._closers[torch.tensor(ids, dtype=torch.long)] = True
                for k in closing:
                    candidates = (allowed[k] & self._closers).nonzero().flatten().tolist()
                    matcher = self.matchers[rows[k]]
                    assert matcher is not None
                    best = closing_path(matcher, candidates, closing_tokens(self._tokenizer))
                    if best:
                        allowed[k] = torch.zeros(vocab, dtype=torch.bool)
                        allowed[k][torch.tensor(best, dtype=torch.long)] = True
        index = torch.tensor(rows, device=scores.device)
        sub = scores[index]
        sub = sub.masked_fill(~allowed.to(scores.device), float("-inf"))
        scores[index] = sub
        return scores
