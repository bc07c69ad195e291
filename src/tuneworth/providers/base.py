"""The provider contract: ``Provider``, one required batch-shaped method, ``generate(requests) -> completions``.

A batch signature lets the local provider batch on the accelerator and API providers fan out over
a bounded pool, with one code path. Every optional capability (answers streamed as they arrive,
label scoring and schema decoding, logprobs, the batch size it wants, a cache tag for its weights,
a reachability probe, API statistics) is declared here with a default, so callers read it instead
of probing with ``getattr``/``hasattr``; a provider overrides what it can do. Everything
cross-cutting (the completion cache, batching, error capture) lives in ``Model``, which providers
never see. Third-party providers (entry points, ``registry.register``) subclass ``Provider``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


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


OnDone = Callable[[int, Completion], None]
"""``on_done(index, completion)``: one answer, by the request's index in the batch."""
OnBatch = Callable[[Sequence[tuple[int, Completion]]], None]
"""``on_batch([(index, completion), ...])``: the answers that arrived together."""


class Provider(ABC):
    """What a provider implements: ``generate``; every other capability has a declared default.

    ``model_id`` names the exact model for run records (``provider/name``, plus the endpoint for APIs).
    """

    model_id: str

    streams_answers: ClassVar[bool] = False
    """True: ``generate_each`` hands each answer on as it arrives (API pools; no batch barrier), and
    ``Model`` uses it instead of ``generate``. False: ``generate_each`` is ``generate`` in one call."""
    decodings: frozenset[str] = frozenset()
    """Constrained decodings it can do (``choice``: label scoring; ``schema``: schema-guided local
    decoding; ``structured`` / ``json_object``: the API's response formats). See ``decoding/plan.py``."""
    logprobs: ClassVar[bool] = False
    """Whether ``ChatRequest.logprobs`` is honoured (``Completion.meta["logprobs"]``)."""
    preferred_batch_size: int = 0
    """The batch ``Model`` should hand it at least (an API pool: enough to keep its connections busy)."""
    cache_tag: str = ""
    """What tells its weights apart beyond ``model_id`` (a file's size and time): part of the cache key."""

    @abstractmethod
    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """Answer every request, in order. Raise a ProviderError for failures of the whole batch."""

    def generate_each(
        self,
        requests: Sequence[ChatRequest],
        on_done: OnDone,
        *,
        on_batch: OnBatch | None = None,
        on_answer: OnDone | None = None,
    ) -> None:
        """Answer every request, handing each answer on: ``on_answer(i, c)`` the moment it arrives
        (``Model`` caches it there), then ``on_done(i, c)``, or, given ``on_batch``, one
        ``on_batch([(i, c), ...])`` per group of answers instead. The default answers the whole
        batch with ``generate`` first; providers with ``streams_answers`` override it."""
        answers = list(enumerate(self.generate(requests)))
        if on_answer is not None:
            for i, c in answers:
                on_answer(i, c)
        if on_batch is not None:
            on_batch(answers)
        else:
            for i, c in answers:
                on_done(i, c)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` for this model; the default is an estimate (~4 characters per token)."""
        return max(1, len(text) // 4)

    def check_choices(self, labels: Sequence[str]) -> None:
        """Refuse (ConfigError) a label set this model cannot score apart; the default accepts any."""
        return None  # a declared no-op, not an abstract method

    def check_schema(self, schema: dict[str, Any]) -> None:
        """Refuse (UnsupportedSchemaError) a schema it cannot decode to; the default accepts any."""
        return None  # a declared no-op, not an abstract method

    def probe(self) -> None:
        """Check, for free, that the model can be reached (AuthError / ProviderError if not).

        The default does nothing: a local provider that was built has its weights loaded."""
        return None  # a declared no-op, not an abstract method

    def api_stats(self) -> dict[str, Any] | None:
        """Requests, retries and failures by kind, and the concurrency reached, for the run record's
        ``api`` section; None (the default) for providers that make no API calls."""
        return None

    def close(self) -> None:
        """Let go of connections and event loops; the default holds none."""
        return None  # a declared no-op, not an abstract method
