"""Structured Outputs and logprobs label scoring through the OpenAI provider, against a scripted
endpoint (httpx2-style handlers behind a real local server, tests/helpers/api_server.py), including refusals."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.helpers.api_server import ScriptedAPI
from tuneworth.config.task import ModelConfig, load_task
from tuneworth.decoding.plan import response_format
from tuneworth.providers.base import ChatRequest
from tuneworth.providers.model import Model
from tuneworth.providers.openai import OpenAIProvider
from tuneworth.run.climb import climb

SCHEMA = {
    "type": "object",
    "properties": {"kind": {"type": "string", "enum": ["a", "b"]}},
    "required": ["kind"],
    "additionalProperties": False,
}


def _completion(content: str, logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [choice],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    }


def _refusal(message: str, status: int = 400) -> httpx2.Response:
    return httpx2.Response(
        status, json={"error": {"message": message, "type": "invalid_request_error", "param": "response_format", "code": None}}
    )


_API: list[ScriptedAPI] = []


@pytest.fixture(scope="module", autouse=True)
def api() -> Iterator[ScriptedAPI]:
    _API.append(ScriptedAPI())
    yield _API[0]
    _API.pop().close()


def _provider(handler: Any, monkeypatch: pytest.MonkeyPatch) -> OpenAIProvider:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    _API[0].handler = handler
    return OpenAIProvider(
        "gpt-test", ModelConfig(name="openai/gpt-test", base_url=_API[0].url, max_connections=2)
    )


def _json_request(i: int = 0) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": f"message {i}, answer in JSON"},),
        response_format=response_format(SCHEMA, "structured"),
    )


def test_structured_outputs_are_requested_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx2.Response(200, json=_completion('{"kind": "a"}'))

    [c] = _provider(handler, monkeypatch).generate([_json_request()])
    fmt = seen[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == SCHEMA
    assert c.text == '{"kind": "a"}' and c.meta["decoding"] == "structured" and "fallback" not in c.meta


def test_refused_json_schema_falls_back_to_json_object_then_free(monkeypatch: pytest.MonkeyPatch) -> None:
    formats: list[str | None] = []
    lock = threading.Lock()
    refuse = {"json_schema"}

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        kind = (body.get("response_format") or {}).get("type")
        with lock:
            formats.append(kind)
        if kind in refuse:
            return _refusal(f"response_format type '{kind}' is not supported by this server")
        return httpx2.Response(200, json=_completion('{"kind": "b"}'))

    p = _provider(handler, monkeypatch)
    out = p.generate([_json_request(i) for i in range(4)])
    assert all(c.error is None and c.meta["decoding"] == "json_object" for c in out)
    assert all(c.meta["fallback"] == "endpoint refused json_schema" for c in out)
    # Once refused, json_schema is not asked for again (at most one per worker raced before learning).
    assert formats.count("json_schema") <= 2 and formats.count("json_object") == 4
    assert "json_schema" in p.refused

    refuse.add("json_object")
    formats.clear()
    p2 = _provider(handler, monkeypatch)
    [c] = p2.generate([_json_request()])
    assert formats == ["json_schema", "json_object", None]
    assert c.error is None and c.meta["decoding"] == "free" and c.text == '{"kind": "b"}'


def test_other_bad_requests_are_errors_not_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, json={"error": {"message": "model not found", "type": "x", "param": None, "code": None}})

    [c] = _provider(handler, monkeypatch).generate([_json_request()])
    assert c.error is not None and "model not found" in c.error


def _token(tok: str, lp: float, top: list[tuple[str, float]]) -> dict[str, Any]:
    return {"token": tok, "logprob": lp, "bytes": None, "top_logprobs": [{"token": t, "logprob": v, "bytes": None} for t, v in top]}


def test_label_scoring_with_logprobs(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        # The model chats ("I think ..."), but its first-token alternatives rank the labels.
        first = _token("I", -0.1, [("I", -0.1), ("neg", -1.5), ("pos", -2.5), ("Neutral", -0.9)])
        return httpx2.Response(200, json=_completion("I think it is fine", [first]))

    labels = ("positive", "negative", "neutral")
    req = ChatRequest(messages=({"role": "user", "content": "ok I guess"},), choices=labels)
    [c] = _provider(handler, monkeypatch).generate([req])
    assert seen[0]["logprobs"] is True and seen[0]["top_logprobs"] == 20
    assert c.text == "neutral" and c.meta["decoding"] == "choice"
    assert c.meta["label_logprobs"] == {"positive": -2.5, "negative": -1.5, "neutral": -0.9}


def test_endpoint_without_logprobs_keeps_the_free_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        calls.append(bool(body.get("logprobs")))
        if body.get("logprobs"):
            return httpx2.Response(400, json={"error": {"message": "logprobs are not supported", "type": "x", "param": "logprobs", "code": None}})
        return httpx2.Response(200, json=_completion("Negative"))

    p = _provider(handler, monkeypatch)
    req = ChatRequest(messages=({"role": "user", "content": "bad"},), choices=("positive", "negative"))
    [c] = p.generate([req])
    assert calls == [True, False] and c.text == "Negative" and c.meta["decoding"] == "free"  # as generated
    [c2] = p.generate([req])
    assert calls == [True, False, False] and c2.meta["decoding"] == "free"


def test_climb_records_the_fallback_and_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        {"messages": [{"role": "user", "content": f"m{i}"}, {"role": "assistant", "content": json.dumps({"kind": "ab"[i % 2]})}]}
        for i in range(20)
    ]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    (tmp_path / "tuneworth.toml").write_text(
        'name = "api"\n[data]\npath = "d.jsonl"\nvalidation_size = 4\ntest_size = 4\n'
        '[output]\nkind = "json"\nschema = "s.json"\n[rungs.L1]\nvariants = ["base"]\n',
        encoding="utf-8",
    )

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        kind = (body.get("response_format") or {}).get("type")
        if kind == "json_schema":
            return _refusal("Invalid schema for response_format 'answer': strict mode is not supported")
        gold = "ab"[int(body["messages"][-1]["content"][1:]) % 2]
        # Free text chats around the answer; JSON mode gives the object.
        return httpx2.Response(200, json=_completion(json.dumps({"kind": gold}) if kind else f"Sure! kind is {gold}"))

    task = load_task(tmp_path, model="openai/gpt-test")
    result = climb(task, Model(_provider(handler, monkeypatch)), runs_dir=tmp_path / "runs", rungs=["L1"])
    from tests.helpers.raw_record import load_record

    header, items, summary = load_record(result.run_dir)
    assert header["status"] == "finished" and header["decoding"]["modes"] == ["free", "structured"]
    constrained = [it for it in items if it["config"].get("decoding") == "structured"]
    assert constrained and all(it["decoding"] == "json_object" and it["valid"] for it in constrained)
    row = summary["rungs"][0]
    assert row["decoding"] == "json_object" and row["score"] == 1.0
    assert header["rungs"]["L1"]["decoding"]["closed"] is True
