"""Deterministic fake providers, for fast unit tests only (never instead of the real path).

``fake/echo`` answers with the last user message; ``fake/constant:TEXT`` always answers TEXT.
Tests can also build ``FakeProvider(responder)`` with any function of the request, and declare the
capabilities a test needs (``decodings``, ``streams_answers``...) on the instance or a subclass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tuneworth.errors import ConfigError
from tuneworth.providers.base import ChatRequest, Completion, Provider

if TYPE_CHECKING:
    from tuneworth.config.task import ModelConfig


class FakeProvider(Provider):
    def __init__(self, responder: Callable[[ChatRequest], str], model_id: str = "fake/custom") -> None:
        self.responder = responder
        self.model_id = model_id
        self.calls = 0
        self.batches: list[int] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.batches.append(len(requests))
        out = []
        for r in requests:
            self.calls += 1
            text = self.responder(r)
            prompt = sum(self.count_tokens(m["content"]) for m in r.messages)
            out.append(
                Completion(
                    text=text, prompt_tokens=prompt, completion_tokens=self.count_tokens(text), latency_ms=1.0
                )
            )
        return out


def _last_user(r: ChatRequest) -> str:
    return next((m["content"] for m in reversed(r.messages) if m["role"] == "user"), "")


def create(name: str, config: ModelConfig) -> FakeProvider:
    if name == "echo":
        return FakeProvider(_last_user, "fake/echo")
    if name.startswith("constant:"):
        text = name.partition(":")[2]
        return FakeProvider(lambda r: text, f"fake/{name}")
    raise ConfigError(f"unknown fake model {name!r}", hint="use fake/echo or fake/constant:TEXT")
