"""Server parts below the HTTP layer: adapters over a shared base (LRU), the JSONL validator (fuzzed),
the dynamic batcher's grouping."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuneworth.providers.base import ChatRequest, Completion
from tuneworth.serve.validate import FileFormatError, validate_chat_jsonl

# ---- the validator ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(json_values | st.binary(max_size=20), min_size=0, max_size=4))
def test_validator_never_crashes_and_names_the_example(lines: list[Any]) -> None:
    data = b"\n".join(x if isinstance(x, bytes) else json.dumps(x).encode() for x in lines)
    try:
        n = validate_chat_jsonl(data)
    except FileFormatError as e:
        assert str(e).startswith("Invalid file format for fine-tuning.")
        if e.example is not None:
            assert f"Example {e.example} (line {e.line})" in str(e)
    else:
        assert n == sum(1 for line in data.decode().splitlines() if line.strip())


def test_validator_accepts_openai_chat_examples() -> None:
    rows = [{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                          {"role": "assistant", "content": "a", "weight": 0},
                          {"role": "user", "content": "u2"}, {"role": "assistant", "content": "b"}]}] * 3
    assert validate_chat_jsonl(("\n".join(json.dumps(r) for r in rows) + "\n\n").encode()) == 3
    with pytest.raises(FileFormatError, match="weight must be 0 or 1"):
        validate_chat_jsonl(json.dumps({"messages": [{"role": "assistant", "content": "a", "weight": 2}]}).encode())
    with pytest.raises(FileFormatError, match="unrecognized key"):
        validate_chat_jsonl(json.dumps({"messages": [{"role": "assistant", "content": "a", "x": 1}]}).encode())


# ---- the batcher ------------------------------------------------------------------------------


class Recorder:
    """A provider that answers with the request's last message and records each batch it saw."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        self.batches.append([r.messages[-1]["content"] for r in requests])
        return [Completion(text=r.messages[-1]["content"].upper()) for r in requests]


def test_batcher_groups_by_model_and_sampling() -> None:
    from tuneworth.serve.batcher import Batcher

    rec = Recorder()
    b = Batcher(lambda model: rec, max_batch=8, max_wait_s=0.05)

    def req(text: str, temperature: float = 0.0) -> ChatRequest:
        return ChatRequest(messages=({"role": "user", "content": text},), temperature=temperature, seed=1)

    async def run() -> list[Completion]:
        jobs = [b.submit("a", req(f"g{i}")) for i in range(5)]
        jobs += [b.submit("a", req("hot", 0.7)), b.submit("b", req("other"))]
        return await asyncio.gather(*jobs)

    out = asyncio.run(run())
    b.close()
    assert [c.text for c in out] == ["G0", "G1", "G2", "G3", "G4", "HOT", "OTHER"]
    assert sorted(map(len, rec.batches)) == [1, 1, 5]  # greedy rows of one model together, the rest apart
    assert out[0].meta["batch_size"] == 5


# ---- adapters over a shared base --------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("peft") is None, reason="needs the [local] extra")
def test_adapters_share_the_base_and_are_evicted_lru(tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tests.helpers.serve import build_tiny_model
    from tuneworth.config.task import ModelConfig
    from tuneworth.providers.local.provider import LocalProvider
    from tuneworth.serve.adapters import Served, SharedBase

    base_dir = build_tiny_model(tmp_path / "base")
    dirs = []
    for k in range(3):  # three adapters with different random LoRA weights
        torch.manual_seed(k)
        m = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"],
                                      init_lora_weights=False))
        m.save_pretrained(tmp_path / f"a{k}")
        dirs.append(tmp_path / f"a{k}")
    provider = LocalProvider(str(base_dir), ModelConfig())
    reqs = [ChatRequest(messages=({"role": "user", "content": f"hi {i}"},), max_tokens=6) for i in range(2)]
    plain = [c.text for c in provider.generate(reqs)]
    shared = SharedBase(provider, max_adapters=2)
    answers = {}
    for k in range(2):
        shared.ensure(f"ft:a{k}", dirs[k])
        answers[k] = [c.text for c in Served(shared, f"ft:a{k}").generate(reqs)]
    base_again = [c.text for c in Served(shared, None).generate(reqs)]
    assert base_again == plain  # adapters are switched off for the base model
    assert answers[0] != plain and answers[1] != plain and answers[0] != answers[1]
    assert shared.peft.get_base_model() is provider.model  # one copy of the base weights
    shared.ensure("ft:a0", dirs[0])  # touch a0, so a1 is the least recently used
    shared.ensure("ft:a2", dirs[2])
    assert list(shared.adapters) == ["ft:a0", "ft:a2"]
    assert [c.text for c in Served(shared, "ft:a0").generate(reqs)] == answers[0]


def test_one_failing_request_does_not_fail_its_batch() -> None:
    from tuneworth.errors import ConfigError
    from tuneworth.serve.batcher import Batcher

    class Picky(Recorder):
        def generate(self, requests: list[ChatRequest]) -> list[Completion]:
            if any(r.messages[-1]["content"] == "bad" for r in requests):
                raise ConfigError("unsupported request")
            return super().generate(requests)

    b = Batcher(lambda model: Picky(), max_batch=8, max_wait_s=0.05)

    async def run() -> list[Any]:
        reqs = [ChatRequest(messages=({"role": "user", "content": t},)) for t in ("ok1", "bad", "ok2")]
        return await asyncio.gather(*(b.submit("m", r) for r in reqs), return_exceptions=True)

    out = asyncio.run(run())
    b.close()
    assert out[0].text == "OK1" and out[2].text == "OK2" and isinstance(out[1], ConfigError)


def test_stream_safe_prefix_never_sends_what_the_final_answer_drops() -> None:
    from tuneworth.serve.stream import safe_prefix

    assert safe_prefix("  Hello wor", (), False) == "Hello wor"
    assert safe_prefix("Hello ", (), False) == "Hello"  # trailing space may be stripped at the end
    assert safe_prefix("one two EN", ("END",), False) == "one two"  # may be the start of the stop string
    assert safe_prefix("one two ENDthree", ("END",), False) == "one two"
    assert safe_prefix('{"a": 1} and more', (), True) == '{"a": 1}'
    assert safe_prefix("caf\ufffd", (), False) == "caf"  # a character still being decoded
    # Every step's safe prefix starts the final answer (what a non-streamed request returns).
    final = "the answer is 42"
    steps = ["the", "the ans", "the answer is", "the answer is 4", "the answer is 42 STOP"]
    safes = [safe_prefix(s, ("STOP", "\n\n"), False) for s in steps]
    assert all(final.startswith(s) for s in safes) and safes[-1] == final
