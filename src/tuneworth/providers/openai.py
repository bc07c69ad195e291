"""``openai/<model>``: OpenAI or any compatible server, many requests in flight on one event loop.

The base URL comes from the task (``model.base_url``) or ``OPENAI_BASE_URL``; the key from the
environment variable named by ``model.api_key_env``. Requests run on one event loop (uvloop's
where installed), at most ``AdaptiveLimit.limit`` in flight: ``model.max_connections``, cut on
429s and grown back after sustained success (``retry.py``). Requests go out through one aiohttp
session (``openai_http.py``: why not the SDK), which never re-sends a request by itself, so every
request the server may have seen is one we chose and counted (``api_stats``). Failures are
classified in ``openai_errors.py`` (retried at most ``model.max_retries`` times, waiting what the
server asks or an exponential backoff with jitter; recorded on the item; or stopping the run).
Each answer is cached (``on_answer``) before its slot goes to the next request, and handed on two
event-loop turns later, once that request is sent (``handoff.py``), so the record and cache keep
up and a kill loses only the requests in flight.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from tuneworth.errors import ConfigError
from tuneworth.paths import use_uvloop
from tuneworth.providers.base import ChatRequest, Completion, OnBatch, OnDone, Provider
from tuneworth.providers.handoff import Handoff
from tuneworth.providers.openai_errors import Failure, classify, status_fields
from tuneworth.providers.openai_http import ChatSession, require_aiohttp
from tuneworth.providers.retry import AdaptiveLimit, Backoff

if TYPE_CHECKING:
    from tuneworth.config.task import ModelConfig


class OpenAIProvider(Provider):
    streams_answers: ClassVar[bool] = True

    def __init__(self, name: str, config: ModelConfig) -> None:
        require_aiohttp()
        base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
        key = os.environ.get(config.api_key_env)
        if not key:
            if base_url is None:
                raise ConfigError(
                    f"openai/{name} needs an API key in ${config.api_key_env}",
                    hint=f"export {config.api_key_env}=sk-... or set model.base_url for a local server",
                )
            key = "not-needed"  # local OpenAI-compatible servers usually ignore the key
        self.name = name
        self.model_id = f"openai/{name}" + (f"@{base_url}" if base_url else "")
        self.max_connections = config.max_connections
        # Constrained decodings (decoding/api.py); formats the endpoint refused are not asked for again.
        self.decodings = frozenset({"structured", "json_object", "choice"})
        self.refused: dict[str, str] = {}
        self.preferred_batch_size = config.max_connections * 4
        self.timeout = config.timeout
        self.max_retries = config.max_retries
        self.backoff = Backoff()
        self.stats: Counter[str] = Counter()
        """requests sent (every attempt), retries, and failed attempts by kind (rate_limit, timeout, ...)."""
        self._key = key
        self._base_url = base_url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: ChatSession | None = None
        self._limit: AdaptiveLimit | None = None

    @property
    def concurrency(self) -> dict[str, int]:
        lim = self._limit
        return {
            "max": self.max_connections,
            "now": lim.limit if lim else self.max_connections,
            "lowest": lim.lowest if lim else self.max_connections,
            "cuts": lim.cuts if lim else 0,
        }

    def api_stats(self) -> dict[str, Any]:
        return {**self.stats, "concurrency": self.concurrency}

    def probe(self) -> None:
        """List the server's models once (free). AuthError if it refuses the key, a retryable
        ProviderError if it cannot be reached; any other answer (some compatible servers have no
        ``/models``) means it is there."""
        self._run_on_loop(self._probe())

    async def _probe(self) -> None:
        try:
            await self._chat_session().list_models()
        except Exception as e:
            failure = classify(e, self.model_id, self.timeout)
            if failure.kind in ("auth", "timeout", "connection"):
                raise failure.error from None

    def close(self) -> None:
        """Close the HTTP session on its own event loop, then the loop."""
        loop, session = getattr(self, "_loop", None), getattr(self, "_session", None)  # a half-built one
        self._loop, self._session = None, None
        if loop is None or loop.is_closed() or loop.is_running():
            return
        try:
            # Not from inside another loop (a garbage collection during another provider's run).
            if session is not None and asyncio._get_running_loop() is None:
                loop.run_until_complete(session.close())
        finally:
            loop.close()

    def __del__(self) -> None:
        self.close()

    def _chat_session(self) -> ChatSession:
        """The session, created on the provider's event loop on first use."""
        if self._session is None:
            self._session = ChatSession(
                self._base_url, self._key, max_connections=self.max_connections, timeout=self.timeout
            )
        return self._session

    def _run_on_loop(self, coro: Any) -> None:
        if self._loop is None or self._loop.is_closed():
            self._loop = _new_event_loop()
        self._loop.run_until_complete(coro)

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        out: list[Completion] = [Completion(error="not answered")] * len(requests)

        def keep(i: int, c: Completion) -> None:
            out[i] = c

        self.generate_each(requests, keep)
        return out

    def generate_each(
        self,
        requests: Sequence[ChatRequest],
        on_done: OnDone,
        *,
        on_batch: OnBatch | None = None,
        on_answer: OnDone | None = None,
    ) -> None:
        """Answer every request; ``on_done(index, completion)`` as each one finishes (in arrival order),
        or, given ``on_batch``, ``on_batch([(index, completion), ...])`` once per group of answers
        (those that arrived in one event-loop turn), instead.

        ``on_answer(index, completion)``, if given, is called for each answer the moment it arrives,
        before its slot is given to the next request: ``Model`` caches it there, so that a kill
        loses only the requests in flight (at most ``max_connections``), never an answer received.

        Raises AuthError / QuotaError (after cancelling what is in flight) when the run cannot go on.
        """
        if not requests:
            return
        if on_batch is None:

            def on_batch(answers: Sequence[tuple[int, Completion]]) -> None:
                for i, completion in answers:
                    on_done(i, completion)

        self._run_on_loop(self._run(requests, on_batch, on_answer))

    async def _run(
        self,
        requests: Sequence[ChatRequest],
        on_batch: OnBatch,
        on_answer: OnDone | None = None,
    ) -> None:
        session = self._chat_session()
        if self._limit is None:
            self._limit = AdaptiveLimit(self.max_connections)
        handoff = Handoff(asyncio.get_running_loop(), on_batch, on_answer)
        tasks = [asyncio.ensure_future(self._one(i, r, session, handoff)) for i, r in enumerate(requests)]
        handoff.tasks = tasks
        try:
            try:
                done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            except BaseException:
                for t in tasks:
                    t.cancel()
                raise
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            handoff.flush()  # answers that arrived before the end (or the error) are kept
        if handoff.error is not None:
            raise handoff.error
        for t in done:
            if not t.cancelled() and (exc := t.exception()) is not None:
                raise exc

    def _kwargs(self, r: ChatRequest, fmt: dict[str, Any] | None, logprobs: bool) -> dict[str, Any]:
        from tuneworth.decoding.api import TOP_LOGPROBS

        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": list(r.messages),
            "max_tokens": r.max_tokens,
            "temperature": r.temperature,
        }
        if r.stop:
            kwargs["stop"] = list(r.stop)
        if fmt:
            kwargs["response_format"] = fmt
        if logprobs:
            kwargs.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        if r.seed is not None:
            kwargs["seed"] = r.seed
        if r.top_p != 1.0:
            kwargs["top_p"] = r.top_p
        return kwargs

    def _format(self, r: ChatRequest) -> tuple[dict[str, Any] | None, bool]:
        """The response format and logprobs to ask for, after what this endpoint already refused."""
        from tuneworth.decoding.api import FALLBACK

        fmt = r.response_format
        kind = fmt.get("type") if fmt else None
        while kind in self.refused:  # an earlier request learnt that this endpoint refuses it
            fmt = FALLBACK.get(str(kind))
            kind = fmt.get("type") if fmt else None
        return fmt, bool(r.choices) and "logprobs" not in self.refused

    def _refusal(self, exc: BaseException, fmt: dict[str, Any] | None, logprobs: bool) -> str | None:
        """Record and name what a 400/422 refused ("logprobs" or the format type), else None."""
        from tuneworth.decoding.api import refuses_format, refuses_logprobs

        fields = status_fields(exc)
        if fields is None or fields[2] == "context_length_exceeded":
            return None
        status, message = fields[0], fields[1]
        if logprobs and refuses_logprobs(status, message):
            self.refused["logprobs"] = message
            return "logprobs"
        if fmt and refuses_format(status, message):
            self.refused[str(fmt.get("type"))] = message
            return str(fmt.get("type"))
        return None

    def _decoded(self, r: ChatRequest, c: Completion, choice: dict[str, Any],
                 fmt: dict[str, Any] | None, logprobs: bool) -> Completion:
        """Mark which decoding answered; label tasks pick the label from the logprobs."""
        from tuneworth.decoding.api import DECODING_OF, pick_label

        if r.choices:
            label, scores = pick_label(c.text, _namespace(choice.get("logprobs")), r.choices)
            if label is not None and (scores or logprobs):
                c.meta.update(decoding="choice", label_logprobs=scores)
                c.text = label
            else:
                c.meta["decoding"] = "free"  # no logprobs from this endpoint: the generated text stands
        elif r.response_format:
            kind = fmt.get("type") if fmt else None
            c.meta["decoding"] = DECODING_OF.get(kind, "free")
            if kind != r.response_format.get("type"):
                c.meta["fallback"] = "endpoint refused " + ", ".join(
                    k for k in ("json_schema", "json_object") if k in self.refused
                )
        return c

    async def _one(self, i: int, r: ChatRequest, session: ChatSession, handoff: Handoff) -> None:
        assert self._limit is not None
        limit, attempt = self._limit, 0
        while True:
            attempt += 1
            await limit.acquire()
            # After acquiring: a format refused while this request waited is not asked for again.
            fmt, logprobs = self._format(r)
            kwargs = self._kwargs(r, fmt, logprobs)
            t0 = time.perf_counter()
            failure: Failure | None = None
            refused: str | None = None
            answered = False
            try:
                data = orjson.loads(await session.post(kwargs))
                choice = data["choices"][0]
                usage = data.get("usage") or {}
                completion = Completion(
                    text=(choice["message"].get("content") or "").strip(),
                    prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                    latency_ms=(time.perf_counter() - t0) * 1000,
                    finish_reason=choice.get("finish_reason") or "stop",
                    meta={"attempts": attempt} if attempt > 1 else {},
                )
                completion = self._decoded(r, completion, choice, fmt, logprobs)
                answered = True
            except asyncio.CancelledError:
                raise
            except Exception as e:
                refused = self._refusal(e, fmt, logprobs)
                if refused is None:
                    failure = classify(e, self.model_id, self.timeout)
            finally:
                try:
                    if answered:  # kept (cached) before its slot goes to the next request
                        handoff.keep(i, completion)
                finally:
                    limit.release_nowait()
            self.stats["requests"] += 1
            if refused is not None:  # step down (Structured Outputs -> json_object -> free; no logprobs)
                self.stats["refused_" + refused] += 1
                attempt -= 1  # a refusal is not a failed attempt
                continue
            if failure is None:
                limit.success()
                handoff.put(i, completion)
                return
            self.stats[failure.kind] += 1
            if failure.fatal:
                raise failure.error
            if failure.kind == "rate_limit":
                limit.rate_limited(failure.retry_after)
            retryable = failure.error.retryable
            if not retryable or attempt > self.max_retries:
                reason = f"{type(failure.error).__name__}: {failure.error.message}"
                if retryable:
                    reason += f" (gave up after {attempt} attempts)"
                handoff.put(
                    i,
                    Completion(
                        error=reason,
                        latency_ms=(time.perf_counter() - t0) * 1000,
                        finish_reason="error",
                        meta={"attempts": attempt, "failure": failure.kind},
                    ),
                )
                return
            self.stats["retries"] += 1
            await asyncio.sleep(self.backoff.delay(attempt, failure.retry_after))


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (less CPU per callback and socket event than asyncio's),
    else asyncio's; ``TUNEWORTH_LOOP=asyncio`` forces asyncio's."""
    if use_uvloop():
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def create(name: str, config: ModelConfig) -> OpenAIProvider:
    return OpenAIProvider(name, config)


def _namespace(value: Any) -> Any:
    """JSON (dicts and lists) as attribute objects, the shape the SDK's typed responses have."""
    from types import SimpleNamespace

    if isinstance(value, dict):
        return SimpleNamespace(**{k: _namespace(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_namespace(v) for v in value]
    return value
