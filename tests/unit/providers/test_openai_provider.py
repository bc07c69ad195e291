"""The OpenAI provider against a scripted local HTTP server (aiohttp.web on a thread, real sockets):
what it sends, how answers and errors come back, the probe, a climb end to end, and the declared
capabilities the rest of the code reads instead of probing the provider."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tuneworth.config.task import ModelConfig, load_task
from tuneworth.errors import AuthError, ConfigError, ProviderError
from tuneworth.providers.base import ChatRequest, Completion, Provider
from tuneworth.providers.model import Model
from tuneworth.providers.openai import OpenAIProvider
from tuneworth.record.store import load_record
from tuneworth.run.climb import climb

Handler = Callable[[dict[str, Any], Any], tuple[int, dict[str, Any]]]


def _completion(content: str, prompt_tokens: int = 11) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 2, "total_tokens": prompt_tokens + 2},
    }


def _error(message: str, code: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@contextmanager
def scripted(chat: Handler, models: Handler | None = None) -> Iterator[str]:
    """A local server answering ``POST /v1/chat/completions`` (and ``GET /v1/models``) with
    ``handler(json_body, headers) -> (status, json)``; yields its base URL."""
    loop = asyncio.new_event_loop()

    async def on_chat(request: web.Request) -> web.Response:
        status, payload = chat(await request.json(), request.headers)
        return web.json_response(payload, status=status)

    async def on_models(request: web.Request) -> web.Response:
        status, payload = (models or (lambda b, h: (200, {"object": "list", "data": []})))({}, request.headers)
        return web.json_response(payload, status=status)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", on_chat)
    app.router.add_get("/v1/models", on_models)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _provider(url: str, monkeypatch: pytest.MonkeyPatch, **cfg: Any) -> OpenAIProvider:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings: dict[str, Any] = {"max_connections": 4, "max_retries": 0, **cfg}
    return OpenAIProvider("gpt-test", ModelConfig(name="openai/gpt-test", base_url=url, **settings))


def _req(text: str, **kw: Any) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": text},), **kw)


def test_what_is_sent_and_what_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[dict[str, Any], str]] = []

    def handler(body: dict[str, Any], headers: Any) -> tuple[int, dict[str, Any]]:
        seen.append((body, headers["Authorization"]))
        return 200, _completion(body["messages"][-1]["content"].upper())

    with scripted(handler) as url:
        p = _provider(url, monkeypatch)
        out = p.generate([_req(f"q{i}", max_tokens=5, stop=("\n",)) for i in range(6)])
        p.close()
    assert [c.text for c in out] == [f"Q{i}" for i in range(6)]
    assert out[0].prompt_tokens == 11 and out[0].completion_tokens == 2
    assert all(a == "Bearer sk-test" for _, a in seen) and len(seen) == 6
    assert all(b["model"] == "gpt-test" and b["max_tokens"] == 5 and b["stop"] == ["\n"] for b, _ in seen)
    assert p.api_stats() == {"requests": 6, "concurrency": {"max": 4, "now": 4, "lowest": 4, "cuts": 0}}


def test_errors_become_item_errors_and_auth_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    def too_long(body: dict[str, Any], headers: Any) -> tuple[int, dict[str, Any]]:
        return 400, _error("context too long", "context_length_exceeded")

    with scripted(too_long) as url:
        [c] = _provider(url, monkeypatch).generate([_req("x")])
    assert c.error == (
        "ContextLengthError: prompt too long for the model: Error code: 400 - context too long"
    )

    def unauthorized(body: dict[str, Any], headers: Any) -> tuple[int, dict[str, Any]]:
        return 401, _error("bad key", "invalid_api_key")

    with scripted(unauthorized) as url, pytest.raises(AuthError, match="refused our credentials"):
        Model(_provider(url, monkeypatch)).generate([_req("x")])


def test_probe_maps_auth_and_unreachable_and_accepts_other_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    def chat(body: dict[str, Any], headers: Any) -> tuple[int, dict[str, Any]]:
        return 200, _completion("ok")

    with (
        scripted(chat, lambda b, h: (401, _error("bad key", "invalid_api_key"))) as url,
        pytest.raises(AuthError, match="HTTP 401"),
    ):
        _provider(url, monkeypatch).probe()
    with scripted(chat, lambda b, h: (404, _error("no such route", "not_found"))) as url:
        _provider(url, monkeypatch).probe()  # the server answered: it is reachable
    with scripted(chat) as url:
        p = _provider(url, monkeypatch)
        p.probe()
        assert [c.text for c in p.generate([_req("x")])] == ["ok"]  # the probe's loop and session are reused
    with pytest.raises(ProviderError, match="connection failed"):
        _provider(url, monkeypatch).probe()  # the server is gone


def test_missing_key_without_base_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIProvider("gpt-4o-mini", ModelConfig(name="openai/gpt-4o-mini"))


def test_bad_base_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    p = _provider("ftp://example.com/v1", monkeypatch)
    with pytest.raises(ConfigError, match="not an http"):
        p.generate([_req("x")])


def test_climb_against_scripted_api(label_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.data import oracle_label

    def handler(body: dict[str, Any], headers: Any) -> tuple[int, dict[str, Any]]:
        return 200, _completion(oracle_label(body["messages"][-1]["content"]))

    task = load_task(label_task, model="openai/gpt-test")
    with scripted(handler) as url:
        provider = _provider(url, monkeypatch, max_retries=2)
        result = climb(task, Model(provider, batch_size=16), runs_dir=tmp_path / "runs", rungs=["L1"])
    row = result.summary.rungs[0]
    assert row.score == 1.0 and row.prompt_tokens_mean == 11 and row.errors == 0
    # The record's api section comes from the declared api_stats(), counted request by request.
    api = load_record(result.run_dir).header.api
    assert api is not None and api.model_dump()["requests"] == provider.stats["requests"] > 0
    assert api.model_dump()["concurrency"]["max"] == 4


def test_capabilities_are_declared_with_defaults() -> None:
    class Minimal(Provider):
        model_id = "third/party"

        def generate(self, requests: Any) -> list[Completion]:
            return [Completion(text="a") for _ in requests]

    m = Minimal()
    assert (m.streams_answers, m.decodings, m.logprobs, m.preferred_batch_size, m.cache_tag) == (
        False, frozenset(), False, 0, ""
    )
    assert m.api_stats() is None and m.probe() is None and m.count_tokens("abcdefgh") == 2
    got: list[tuple[int, str]] = []
    kept: list[int] = []
    m.generate_each([_req("x"), _req("y")], lambda i, c: got.append((i, c.text)), on_answer=lambda i, c: kept.append(i))
    assert got == [(0, "a"), (1, "a")] and kept == [0, 1]
    assert Model(m).generate([_req("x")])[0].text == "a"
    with pytest.raises(TypeError):
        type("NoGenerate", (Provider,), {"model_id": "x"})()  # generate is the one required method


def test_third_party_providers_subclass_the_base_and_declare_what_they_can_do() -> None:
    import tuneworth
    from tuneworth.providers import registry

    class Pool(Provider):
        preferred_batch_size = 96
        cache_tag = "v2"

        def __init__(self, name: str) -> None:
            self.model_id = f"pool/{name}"

        def generate(self, requests: Any) -> list[Completion]:
            return [Completion(text="b") for _ in requests]

    tuneworth.register_provider("pool", lambda name, config: Pool(name))
    tuneworth.register_provider("notaprovider", lambda name, config: object())  # type: ignore[arg-type,return-value]
    try:
        model = registry.resolve_model("pool/x", cache=False)
        assert model.batch_size == 96 and model.identity == "pool/x#v2"
        with pytest.raises(ConfigError, match="not a Provider"):
            registry.resolve_provider("notaprovider/x")
    finally:
        registry._REGISTERED.pop("notaprovider")
        registry._REGISTERED.pop("pool")
