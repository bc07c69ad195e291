"""The API path end to end: tuneworth's OpenAI provider (the official SDK) against a real local server
(``tuneworth serve`` over HTTP, a tiny Llama). Structured Outputs are honoured; a schema the server
refuses (HTTP 400 about ``response_format``) falls back to ``json_object``: recorded, not fatal."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from tests.helpers.serve import Server, build_tiny_model

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("torch", "fastapi", "uvicorn", "openai", "llguidance")),
    reason="needs the [local,serve,openai] extras (make test installs them)",
)

COLOURS = {
    "type": "object",
    "properties": {"colour": {"type": "string", "enum": ["red", "green"]}},
    "required": ["colour"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("api-serve")
    s = Server(root / "data", build_tiny_model(root / "tiny"), root / "home").start()
    yield s
    s.stop()


def test_structured_outputs_and_refusal_fallback_through_the_sdk(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneworth.config.task import ModelConfig
    from tuneworth.decoding.plan import response_format
    from tuneworth.providers.base import ChatRequest
    from tuneworth.providers.openai import OpenAIProvider

    monkeypatch.setenv("OPENAI_API_KEY", "none")
    provider = OpenAIProvider("tiny", ModelConfig(name="openai/tiny", base_url=server.base_url, max_connections=2))

    def ask(schema: dict[str, Any]) -> Any:
        messages = ({"role": "user", "content": "Pick a colour; answer in JSON."},)
        [c] = provider.generate([ChatRequest(messages=messages, max_tokens=24, response_format=response_format(schema, "structured"))])
        return c

    good = ask(COLOURS)
    assert good.error is None and good.meta["decoding"] == "structured" and "fallback" not in good.meta
    assert json.loads(good.text)["colour"] in ("red", "green")  # a random-weight model: the grammar did it
    assert provider.refused == {}

    # 'not' is outside what the server's decoder compiles: it answers 400 naming the keyword.
    refused = ask({**COLOURS, "not": {"required": ["shade"]}})
    assert refused.error is None and refused.meta["decoding"] == "json_object"
    assert refused.meta["fallback"] == "endpoint refused json_schema"
    assert "keyword 'not'" in provider.refused["json_schema"]
    assert refused.text.startswith("{")  # json_object: still constrained to an object by the server
    # Learnt for the run: the next request goes straight to json_object.
    assert ask(COLOURS).meta["decoding"] == "json_object"
