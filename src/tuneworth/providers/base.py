"""The provider contract: one batch-shaped method, ``generate(requests) -> completions``.

A batch signature lets the local provider batch on the accelerator and API providers fan out over
a bounded pool, with one code path. Everything cross-cutting (timing, error capture, and later
retries and caching) lives in ``Model``, which providers never see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion request, provider-neutral."""

    messages: tuple[dict[str, str], ...]
    max_tokens: int = 64
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    stop_after_json: bool = False
    """A hint: the caller reads only the first JSON object, so a provider may stop once it is complete."""
    choices: tuple[str, ...] = ()
    """Label scoring (``decoding = "choice"``): answer with the most likely of these strings."""
    top_p: float = 1.0
    """Nucleus sampling: sample only from the most likely tokens holding this much probability."""
    logprobs: int | None = None
    """Return each answer token's log probability and this many most likely alternatives (0-20);
    None: no log probabilities (OpenAI's ``logprobs`` / ``top_logprobs``)."""

    def key(self) -> dict[str, Any]:
        key = {
            "messages": list(self.messages),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": list(self.stop),
            "response_format": self.response_format,
            "seed": self.seed,
            "stop_after_json": self.stop_after_json,
        }
        if self.choices:  # only when set, so keys of plain requests (and the cache) are unchanged
            key["choices"] = list(self.choices)
        if self.top_p != 1.0:  # likewise
            key["top_p"] = self.top_p
        if self.logprobs is not None:  # likewise
            key["logprobs"] = self.logprobs
        return key


@dataclass
class Completion:
    """A provider's answer to one request. ``error`` is set (and ``text`` empty) when it failed."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    finish_reason: str = "stop"
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """What a provider implements. ``model_id`` names the exact model for run records."""

    model_id: str

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Answer every request, in order. Raise a ProviderError for failures of the whole batch."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` for this model (an estimate is acceptable where no tokenizer is at hand)."""
        ...
