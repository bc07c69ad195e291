"""The OpenAI provider through the official SDK, offline, with an injected HTTP transport (an async client: requests run on one event loop)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tuneworth.config.task import ModelConfig, load_task
from tuneworth.errors import AuthError, ConfigError
from tuneworth.providers.base import ChatRequest
from tuneworth.providers.model import Model
from tuneworth.providers.openai import OpenAIProvider
from tuneworth.run.climb import climb


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


def _provider(handler: Any, monkeypatch: pytest.MonkeyPatch) -> OpenAIProvider:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return OpenAIProvider(
        "gpt-test",
        ModelConfig(name="openai/gpt-test", base_url="http://testserver/v1", max_connections=4),
        http_client=client,
    )


def test_requests_go_through_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        with lock:
            seen.append(body)
        assert request.url.path == "/v1/chat/completions"
        assert request.headers["authorization"] == "Bearer sk-test"
        return httpx2.Response(200, json=_completion(body["messages"][-1]["content"].upper()))

    p = _provider(handler, monkeypatch)
    reqs = [
        ChatRequest(messages=({"role": "user", "content": f"q{i}"},), max_tokens=5, stop=("\n",))
        for i in range(6)
    ]
    out = p.generate(reqs)
    assert [c.text for c in out] == [f"Q{i}" for i in range(6)]
    assert out[0].prompt_tokens == 11 and out[0].completion_tokens == 2
    assert all(b["model"] == "gpt-test" and b["max_tokens"] == 5 and b["stop"] == ["\n"] for b in seen)


def test_errors_become_item_errors_and_auth_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    def bad_request(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            400,
            json={
                "error": {
                    "message": "context too long",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "context_length_exceeded",
                }
            },
        )

    [c] = _provider(bad_request, monkeypatch).generate(
        [ChatRequest(messages=({"role": "user", "content": "x"},))]
    )
    assert c.error is not None and "ContextLengthError" in c.error

    def unauthorized(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            401,
            json={
                "error": {
                    "message": "bad key",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )

    with pytest.raises(AuthError):
        Model(_provider(unauthorized, monkeypatch)).generate(
            [ChatRequest(messages=({"role": "user", "content": "x"},))]
        )


def test_missing_key_without_base_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIProvider("gpt-4o-mini", ModelConfig(name="openai/gpt-4o-mini"))


def test_climb_against_scripted_api(
    label_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.data import oracle_label

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        return httpx2.Response(200, json=_completion(oracle_label(body["messages"][-1]["content"])))

    task = load_task(label_task, model="openai/gpt-test")
    result = climb(
        task, Model(_provider(handler, monkeypatch), batch_size=16), runs_dir=tmp_path, rungs=["L1"]
    )
    row = result.summary.rungs[0]
    assert row.score == 1.0 and row.prompt_tokens_mean == 11 and row.errors == 0
