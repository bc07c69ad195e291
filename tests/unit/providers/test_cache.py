"""The completion cache: hits cost no provider call, errors are never cached, keys see every parameter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.helpers.raw_record import load_record
from tuneworth.config.task import load_task
from tuneworth.errors import ProviderError
from tuneworth.providers.base import ChatRequest, Completion, Provider
from tuneworth.providers.cache import CompletionCache, request_key
from tuneworth.providers.fake import FakeProvider
from tuneworth.providers.model import Model
from tuneworth.run.climb import climb


def _req(text: str, **kw: object) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": text},), **kw)  # type: ignore[arg-type]


def test_hits_skip_the_provider_and_keep_measurements(tmp_path: Path) -> None:
    cache = CompletionCache(tmp_path / "c.sqlite")
    fake = FakeProvider(lambda r: r.messages[-1]["content"].upper())
    model = Model(fake, cache=cache)
    first = model.generate([_req("a"), _req("b")])
    assert fake.calls == 2 and not any(c.meta.get("cached") for c in first)
    again = Model(fake, cache=CompletionCache(tmp_path / "c.sqlite")).generate(
        [_req("a"), _req("b"), _req("c")]
    )
    assert fake.calls == 3  # only "c" was generated
    assert [c.text for c in again] == ["A", "B", "C"]
    assert again[0].meta["cached"] and again[0].prompt_tokens == first[0].prompt_tokens
    assert not again[2].meta.get("cached")


def test_key_covers_parameters_and_model() -> None:
    base = request_key("fake/x", _req("a"))
    assert base != request_key("fake/y", _req("a"))
    assert base != request_key("fake/x", _req("a", max_tokens=5))
    assert base != request_key("fake/x", _req("a", stop=("\n",)))
    assert base == request_key("fake/x", _req("a"))


class Broken(Provider):
    model_id = "fake/broken"
    calls = 0

    def count_tokens(self, text: str) -> int:
        return 1

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.calls += 1
        raise ProviderError("boom", retryable=True)


def test_errors_are_never_cached(tmp_path: Path) -> None:
    cache = CompletionCache(tmp_path / "c.sqlite")
    broken = Broken()
    for _ in range(2):
        [c] = Model(broken, cache=cache).generate([_req("a")])
        assert c.error
    assert broken.calls == 2 and cache.stats()["entries"] == 0


def test_sampled_requests_without_seed_are_not_cached(tmp_path: Path) -> None:
    cache = CompletionCache(tmp_path / "c.sqlite")
    Model(FakeProvider(lambda r: "x"), cache=cache).generate([_req("a", temperature=0.7)])
    assert cache.stats()["entries"] == 0


def test_rerun_of_a_climb_is_served_from_cache_and_marked(label_task: Path, tmp_path: Path) -> None:
    task = load_task(label_task)
    cache_path = tmp_path / "c.sqlite"
    fake = FakeProvider(lambda r: "neutral")
    climb(task, Model(fake, cache=CompletionCache(cache_path)), runs_dir=tmp_path / "r1", rungs=["L1"])
    calls = fake.calls
    result = climb(
        task, Model(fake, cache=CompletionCache(cache_path)), runs_dir=tmp_path / "r2", rungs=["L1"]
    )
    assert fake.calls == calls  # nothing paid twice
    header, items, _ = load_record(result.run_dir)
    assert all(i["cached"] for i in items) and header["cache"] == {"enabled": True, "hits": len(items)}


def test_cache_cli(tmp_path: Path) -> None:
    env = {**os.environ, "TUNEWORTH_HOME": str(tmp_path), "TUNEWORTH_CACHE": "1"}
    task = tmp_path / "t"
    subprocess.run(
        [sys.executable, "-m", "tuneworth", "init", str(task)], check=True, capture_output=True, env=env
    )
    args = [
        sys.executable,
        "-m",
        "tuneworth",
        "climb",
        str(task),
        "--model",
        "fake/echo",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    subprocess.run(args, check=True, capture_output=True, env=env)
    second = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    assert "came from the completion cache" in second.stderr
    stats = json.loads(
        subprocess.run(
            [sys.executable, "-m", "tuneworth", "cache", "stats", "--json"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    )
    assert stats["entries"] > 0 and "fake/echo" in stats["by_model"]
    cleared = subprocess.run(
        [sys.executable, "-m", "tuneworth", "cache", "clear"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    assert f"removed {stats['entries']}" in cleared.stdout
    nocache = subprocess.run([*args, "--no-cache"], check=True, capture_output=True, text=True, env=env)
    assert "completion cache" not in nocache.stderr


def test_summary_is_identical_from_cache(tmp_path: Path) -> None:
    """Bootstrap intervals (continuous metric) must not depend on the order in which answers arrive."""
    import random

    rows = []
    for i in range(80):
        gold = {"a": ["x", "y"][i % 2], "b": ["p", "q", "r"][i % 3]}
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"item {i}"},
                    {"role": "assistant", "content": json.dumps(gold)},
                ]
            }
        )
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "tuneworth.toml").write_text(
        'name = "j"\n[data]\npath = "data.jsonl"\nvalidation_size = 10\ntest_size = 30\n[output]\nkind = "json"\n[model]\nname = "fake/echo"\n'
    )
    task = load_task(tmp_path)
    cache_path = tmp_path / "c.sqlite"
    rng = random.Random(0)
    answers: dict[str, str] = {}

    def responder(r: ChatRequest) -> str:
        key = json.dumps(r.messages)
        return answers.setdefault(key, json.dumps({"a": rng.choice("xy"), "b": rng.choice("pqr")}))

    a = climb(
        task,
        Model(FakeProvider(responder), batch_size=3, cache=CompletionCache(cache_path)),
        runs_dir=tmp_path / "a",
    )
    b = climb(
        task,
        Model(FakeProvider(responder), batch_size=3, cache=CompletionCache(cache_path)),
        runs_dir=tmp_path / "b",
    )
    assert a.summary.rungs[0].metric == "field_accuracy"
    strip = {"seconds", "latency_p50_ms", "latency_p95_ms"}
    rows_a = [r.model_dump(exclude=strip) for r in a.summary.rungs]
    rows_b = [r.model_dump(exclude=strip) for r in b.summary.rungs]
    assert rows_a == rows_b
