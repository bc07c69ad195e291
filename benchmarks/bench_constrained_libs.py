"""Which library constrains local decoding to a JSON Schema: speed and schema coverage, one run.

Candidates from PyPI: llguidance, xgrammar, lm-format-enforcer, outlines-core (the engine under
outlines). Each builds its tokenizer view of SmolLM2-135M, compiles the support-triage schema, then
walks the tokens of a valid answer computing the allowed-token mask at every step (the work done per
decode step; the model's own cost is the same for all). Coverage: which of 18 small schemas, one
keyword family each, compile without error.

The candidates are not project dependencies: run it in a throwaway venv layered on .venv, e.g.
  python3 -m venv /tmp/cand && echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/cand/lib/python3.11/site-packages/base.pth
  /tmp/cand/bin/pip install --no-deps xgrammar==0.2.8 apache-tvm-ffi llguidance==1.9.1 \
      lm-format-enforcer==0.11.3 interegular outlines-core==0.2.14
  /tmp/cand/bin/python benchmarks/bench_constrained_libs.py
(xgrammar is installed --no-deps: its requirements pull triton, which CPU decoding does not need.)
"""

from __future__ import annotations

import json
import statistics
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _results import save

from tuneworth.providers.local.provider import converted_dir

ROOT = Path(__file__).resolve().parents[1]
TRIAGE = json.loads((ROOT / "examples" / "support-triage" / "schema.json").read_text())
ANSWER = '{"category":"billing","sentiment":"negative","priority":"high","action":"issue_refund"}'

S = {"type": "string"}
COVERAGE: dict[str, dict[str, Any]] = {
    "enum+required+additionalProperties": TRIAGE,
    "integer minimum/maximum": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["n"]},
    "number multipleOf": {"type": "object", "properties": {"x": {"type": "number", "multipleOf": 0.5}}, "required": ["x"]},
    "string pattern": {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{3}$"}}, "required": ["id"]},
    "string minLength/maxLength": {"type": "object", "properties": {"s": {"type": "string", "minLength": 2, "maxLength": 8}}, "required": ["s"]},
    "string format date": {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}, "required": ["d"]},
    "array minItems/maxItems": {"type": "object", "properties": {"tags": {"type": "array", "items": S, "minItems": 1, "maxItems": 3}}, "required": ["tags"]},
    "array uniqueItems": {"type": "object", "properties": {"tags": {"type": "array", "items": S, "uniqueItems": True}}, "required": ["tags"]},
    "prefixItems": {"type": "object", "properties": {"p": {"type": "array", "prefixItems": [S, {"type": "integer"}]}}, "required": ["p"]},
    "$ref/$defs": {"type": "object", "$defs": {"a": {"type": "object", "properties": {"x": S}, "required": ["x"]}}, "properties": {"a": {"$ref": "#/$defs/a"}}, "required": ["a"]},
    "anyOf": {"type": "object", "properties": {"v": {"anyOf": [S, {"type": "integer"}]}}, "required": ["v"]},
    "oneOf": {"type": "object", "properties": {"v": {"oneOf": [{"type": "boolean"}, {"type": "integer"}]}}, "required": ["v"]},
    "allOf": {"type": "object", "properties": {"v": {"allOf": [S, {"minLength": 1}]}}, "required": ["v"]},
    "const": {"type": "object", "properties": {"v": {"const": "fixed"}}, "required": ["v"]},
    "patternProperties": {"type": "object", "patternProperties": {"^x_": S}},
    "not": {"type": "object", "properties": {"v": {"not": {"type": "string"}}}, "required": ["v"]},
    "if/then/else": {"type": "object", "properties": {"a": S}, "if": {"properties": {"a": {"const": "x"}}}, "then": {"required": ["a"]}},
    "dependentRequired": {"type": "object", "properties": {"a": S, "b": S}, "dependentRequired": {"a": ["b"]}},
}


class Candidate:
    name: str

    def setup(self, tok: Any, vocab: int) -> None: ...
    def compile(self, schema: dict[str, Any]) -> Any: ...
    def walk(self, compiled: Any, tokens: list[int]) -> list[float]:
        """Seconds per mask computation while accepting ``tokens``; raises if a token is refused."""
        raise NotImplementedError


class LLGuidance(Candidate):
    name = "llguidance 1.9.1"

    def setup(self, tok: Any, vocab: int) -> None:
        import llguidance.hf

        self.llt = llguidance.hf.from_tokenizer(tok, n_vocab=vocab)
        self.vocab = vocab

    def compile(self, schema: dict[str, Any]) -> Any:
        from llguidance import LLMatcher

        g = LLMatcher.grammar_from_json_schema(schema, defaults={"whitespace_flexible": False})
        err, msgs = LLMatcher.validate_grammar_with_warnings(g, self.llt)
        if err:
            raise ValueError(msgs[0])
        return g

    def walk(self, compiled: Any, tokens: list[int]) -> list[float]:
        import llguidance.torch as lt
        from llguidance import LLMatcher

        m = LLMatcher(self.llt, compiled, log_level=0)
        bits = lt.allocate_token_bitmask(1, self.vocab)
        times = []
        for t in tokens:
            t0 = time.perf_counter()
            lt.fill_next_token_bitmask(m, bits, 0)
            times.append(time.perf_counter() - t0)
            if not m.consume_token(t):
                raise ValueError(f"refused token {t}: {m.get_error()}")
        return times


class XGrammar(Candidate):
    name = "xgrammar 0.2.8"

    def setup(self, tok: Any, vocab: int) -> None:
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=vocab)
        self.compiler = xgr.GrammarCompiler(info)
        self.vocab = vocab

    def compile(self, schema: dict[str, Any]) -> Any:
        return self.compiler.compile_json_schema(
            json.dumps(schema), any_whitespace=False, separators=(",", ":")
        )

    def walk(self, compiled: Any, tokens: list[int]) -> list[float]:
        import xgrammar as xgr

        m = xgr.GrammarMatcher(compiled)
        bits = xgr.allocate_token_bitmask(1, self.vocab)
        times = []
        for t in tokens:
            t0 = time.perf_counter()
            m.fill_next_token_bitmask(bits)
            times.append(time.perf_counter() - t0)
            if not m.accept_token(t):
                raise ValueError(f"refused token {t}")
        return times


class LMFormatEnforcer(Candidate):
    name = "lm-format-enforcer 0.11.3"

    def setup(self, tok: Any, vocab: int) -> None:
        from lmformatenforcer.integrations.transformers import build_token_enforcer_tokenizer_data

        self.data = build_token_enforcer_tokenizer_data(tok)

    def compile(self, schema: dict[str, Any]) -> Any:
        from lmformatenforcer import JsonSchemaParser

        return JsonSchemaParser(schema)

    def walk(self, compiled: Any, tokens: list[int]) -> list[float]:
        from lmformatenforcer import TokenEnforcer

        te = TokenEnforcer(self.data, compiled)
        prefix: list[int] = []
        times = []
        for t in tokens:
            t0 = time.perf_counter()
            allowed = te.get_allowed_tokens(prefix)
            times.append(time.perf_counter() - t0)
            allowed_ids = allowed.allowed_tokens if hasattr(allowed, "allowed_tokens") else allowed
            if t not in set(allowed_ids):
                raise ValueError(f"refused token {t}")
            prefix.append(t)
        return times


class OutlinesCore(Candidate):
    name = "outlines-core 0.2.14"

    def setup(self, tok: Any, vocab: int) -> None:
        from outlines_core import Vocabulary

        # outlines' own from_pretrained needs the Hub; build the vocabulary from the local tokenizer.
        byte_decoder = {v: k for k, v in _bytes_to_unicode().items()}
        mapping: dict[bytes, list[int]] = {}
        special = set(tok.all_special_ids)
        for token, i in tok.get_vocab().items():
            if i in special:
                continue
            try:
                b = bytes(byte_decoder[c] for c in token)
            except KeyError:
                b = token.encode()
            mapping.setdefault(b, []).append(i)
        self.vocabulary = Vocabulary(tok.eos_token_id, mapping)

    def compile(self, schema: dict[str, Any]) -> Any:
        from outlines_core import Index
        from outlines_core.json_schema import build_regex_from_schema

        return Index(build_regex_from_schema(json.dumps(schema)), self.vocabulary)

    def walk(self, compiled: Any, tokens: list[int]) -> list[float]:
        from outlines_core import Guide

        g = Guide(compiled)
        times = []
        for t in tokens:
            if g.is_finished():  # the end of the answer: outlines leaves EOS to the caller
                break
            t0 = time.perf_counter()
            allowed = g.get_tokens()
            times.append(time.perf_counter() - t0)
            if t not in allowed:
                raise ValueError(f"refused token {t}")
            g.advance(t)
        return times


def _bytes_to_unicode() -> dict[int, str]:
    from tuneworth.providers.local.logprobs import _byte_decoder

    return {b: c for c, b in _byte_decoder().items()}


# Instances that break one keyword each: a decoder that accepts them ignores the keyword silently.
VIOLATIONS = {
    "array uniqueItems": '{"tags":["a","a"]}',
    "not": '{"v":"s"}',
    "if/then/else": "{}",
    "dependentRequired": '{"a":"x"}',
    "string pattern": '{"id":"abc"}',
    "integer minimum/maximum": '{"n":9}',
}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    from transformers import AutoTokenizer

    path = converted_dir("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(str(path))
    vocab = json.loads((path / "config.json").read_text())["vocab_size"]
    answer = [*tok.encode(ANSWER, add_special_tokens=False), tok.eos_token_id]
    rows = {}
    for cand in (LLGuidance(), XGrammar(), LMFormatEnforcer(), OutlinesCore()):
        row: dict[str, Any] = {}
        try:
            row["tokenizer_setup_s"] = round(timed(lambda c=cand: c.setup(tok, vocab))[0], 3)
            row["compile_triage_s"], compiled = timed(lambda c=cand: c.compile(TRIAGE))
            row["compile_triage_s"] = round(row["compile_triage_s"], 4)
            times = cand.walk(compiled, answer)
            row["mask_ms_median"] = round(statistics.median(times) * 1000, 3)
            row["mask_ms_max"] = round(max(times) * 1000, 3)
            row["answer_tokens"] = len(answer)
        except Exception as e:  # a candidate that breaks is a result, not a crash
            row["error"] = f"{type(e).__name__}: {str(e)[:200]}"
            traceback.print_exc()
        supported, refused = [], {}
        for label, schema in COVERAGE.items():
            try:
                cand.compile(schema)
                supported.append(label)
            except Exception as e:
                refused[label] = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
        ignored = []
        if "error" not in row:
            for label, bad in VIOLATIONS.items():
                if label not in supported:
                    continue
                try:
                    cand.walk(cand.compile(COVERAGE[label]), tok.encode(bad, add_special_tokens=False))
                    ignored.append(label)  # the whole violating answer was allowed
                except Exception:
                    pass
        row["coverage"] = f"{len(supported)}/{len(COVERAGE)}" if "error" not in row else "n/a (setup failed)"
        row["refused"] = refused
        row["compiled_but_not_enforced"] = ignored
        rows[cand.name] = row
        print(cand.name, {k: v for k, v in row.items() if k != "refused"}, flush=True)
    save("constrained_libs", {"schemas": len(COVERAGE), "candidates": rows})


if __name__ == "__main__":
    main()
