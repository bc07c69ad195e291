"""``openai/<model>``: OpenAI or any compatible server, through our lean chat path or the official SDK.

The base URL comes from the task (``model.base_url``) or ``OPENAI_BASE_URL``; the key from the
environment variable named by ``model.api_key_env``. Requests run on one event loop (uvloop's
where installed), at most ``AdaptiveLimit.limit`` in flight: ``model.max_connections``, cut on
429s and grown back after sustained success (``retry.py``). The SDK's own retries are off, so every
request the server sees is one we chose and counted (``stats``). Retried: 408, 409, 429, 5xx,
timeouts (``model.timeout`` per request), connection errors and malformed responses, waiting what
the server asks (``Retry-After``/``retry-after-ms``) or an exponential backoff with jitter, at most
``model.max_retries`` times. Not retried, recorded on the item with the reason: context length and
other 4xx. Stopping the run: authentication/permission failures and ``insufficient_quota``.
Each answer is cached (``on_answer``) before its slot goes to the next request, and handed to
``on_done`` two event-loop turns later, once that request is sent (``_Handoff``), so the record and
cache keep up and a kill loses only the requests in flight. Requests go out through
``chat_http.ChatHTTP`` (our HTTP/1.1 client; ~2 ms less CPU per request than the SDK path)
unless a transport is injected or ``TUNEWORTH_HTTP=sdk|httpx`` asks for the SDK's.
Tests inject an HTTP transport via ``http_client`` (an async client).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from tuneworth.errors import (
    AuthError,
    ConfigError,
    ContextLengthError,
    MissingDependencyError,
    ProviderError,
    QuotaError,
    RateLimitError,
)
from tuneworth.paths import use_uvloop
from tuneworth.providers.base import ChatRequest, Completion
from tuneworth.providers.retry import AdaptiveLimit, Backoff, parse_retry_after, retryable_status

if TYPE_CHECKING:
    from tuneworth.config.task import ModelConfig


@dataclass
class Failure:
    """One failed attempt: the error to record, whether to try again, and how long the server asked us to wait."""

    error: ProviderError
    kind: str
    retry_after: float | None = None

    @property
    def fatal(self) -> bool:
        return isinstance(self.error, AuthError | QuotaError)


def _status_fields(exc: BaseException) -> tuple[int, str, str, str, Any] | None:
    """(status, message, code, type, headers) of an HTTP error answer from either path, else None."""
    from tuneworth.providers.chat_http import HTTPStatusError

    if isinstance(exc, HTTPStatusError):
        return exc.status_code, exc.message, exc.code or "", exc.type or "", exc.headers
    openai = _sdk()
    if openai is not None and isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        code = str(getattr(exc, "code", None) or "")
        return exc.status_code, exc.message, code, str(body.get("type") or ""), exc.response.headers
    return None


def classify(exc: BaseException, model_id: str, timeout: float) -> Failure:
    """Map an exception of either HTTP path (the SDK's, or ``chat_http``'s) onto our error tree."""
    openai = _sdk()
    if isinstance(exc, TimeoutError) or (openai is not None and isinstance(exc, openai.APITimeoutError)):
        return Failure(ProviderError(f"no answer within {timeout:g} s", retryable=True), "timeout")
    if openai is not None and isinstance(exc, openai.APIConnectionError):
        return Failure(ProviderError(f"connection failed: {exc.message}", retryable=True), "connection")
    if _is_connection_error(exc):
        detail = str(exc) or type(exc).__name__
        return Failure(ProviderError(f"connection failed: {detail}", retryable=True), "connection")
    fields = _status_fields(exc)
    if fields is not None:
        status, message, code, kind_field, headers = fields
        if status in (401, 403):
            return Failure(
                AuthError(
                    f"{model_id}: the server refused our credentials (HTTP {status}: {message})",
                    hint="check the API key (model.api_key_env) and that it may use this model",
                ),
                "auth",
            )
        if "insufficient_quota" in (code, kind_field):
            return Failure(
                QuotaError(
                    f"{model_id}: the account has no quota left (insufficient_quota: {message})",
                    hint="add credit or raise the limit in the provider's billing settings, then re-run the same command to resume",
                ),
                "quota",
            )
        retry_after = parse_retry_after(headers)
        if status == 429:
            return Failure(
                RateLimitError(f"rate limited: {message}", retry_after=retry_after), "rate_limit", retry_after
            )
        if retryable_status(status):
            return Failure(
                ProviderError(f"HTTP {status}: {message}", retryable=True), "server_error", retry_after
            )
        if code == "context_length_exceeded" or "context length" in message.lower():
            return Failure(ContextLengthError(f"prompt too long for the model: {message}"), "context_length")
        return Failure(ProviderError(f"HTTP {status}: {message}"), "bad_request")
    if isinstance(exc, ValueError | LookupError | TypeError | AttributeError) or (
        openai is not None and isinstance(exc, openai.APIError)
    ):
        # A 200 whose body is not a chat completion (truncated or garbled JSON).
        return Failure(
            ProviderError(f"malformed response ({type(exc).__name__}: {exc})", retryable=True), "malformed"
        )
    raise exc


def _sdk() -> Any:
    """The ``openai`` module if something imported it (its exceptions can only come from it), else None.

    The lean path never needs it, and importing it costs seconds where bytecode is not cached."""
    return sys.modules.get("openai")


def _is_connection_error(exc: BaseException) -> bool:
    """aiohttp's client errors (refused, reset, a body cut short) and socket errors: worth another try."""
    if isinstance(exc, OSError):
        return True
    try:
        import aiohttp
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, aiohttp.ClientError)


CONNECTIONS_PER_CLIENT = 8


async def _close_all(clients: list[Any]) -> None:
    await asyncio.gather(*(c.close() for c in clients))


class OpenAIProvider:
    def __init__(self, name: str, config: ModelConfig, *, http_client: Any = None) -> None:
        if importlib.util.find_spec("openai") is None:
            raise MissingDependencyError("openai", "openai")

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
        """requests sent, retries, and failed attempts by kind (rate_limit, timeout, server_error, ...)."""
        self._key = key
        self._base_url = base_url
        self._http_client = http_client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: list[Any] = []
        self._lean = False
        """Requests go through ``chat_http.ChatHTTP`` (aiohttp) rather than the SDK."""
        self._load: list[int] = []
        self._limit: AdaptiveLimit | None = None

    def count_tokens(self, text: str) -> int:
        # No offline tokenizer for API models: ~4 characters per token, clearly an estimate.
        return max(1, len(text) // 4)

    @property
    def concurrency(self) -> dict[str, int]:
        lim = self._limit
        return {
            "max": self.max_connections,
            "now": lim.limit if lim else self.max_connections,
            "lowest": lim.lowest if lim else self.max_connections,
            "cuts": lim.cuts if lim else 0,
        }

    def probe(self) -> None:
        """List the server's models once (free): the SDK's error if it cannot be reached or refuses the key."""
        import openai

        with openai.OpenAI(api_key=self._key, base_url=self._base_url, timeout=self.timeout, max_retries=0) as c:
            c.models.list()

    def close(self) -> None:
        """Close the HTTP client on its own event loop, then the loop."""
        loop, clients = getattr(self, "_loop", None), getattr(self, "_clients", [])
        self._loop, self._clients = None, []
        if loop is None or loop.is_closed() or loop.is_running():
            return
        try:
            # Not from inside another loop (a garbage collection during another provider's run).
            if clients and asyncio._get_running_loop() is None:
                loop.run_until_complete(_close_all(clients))
        finally:
            loop.close()

    def __del__(self) -> None:
        self.close()

    def _count_resend(self) -> None:
        """A request sent once more on a new connection (its kept-alive one was found closed) is a
        request the server may have seen: counted as one, so our count is never below the server's."""
        self.stats["requests"] += 1
        self.stats["resent"] += 1

    def _make_clients(self) -> list[Any]:
        """The SDK clients requests are spread over (created on the provider's event loop).

        With ``aiohttp`` installed (``pip install openai[aiohttp]``) the SDK's own aiohttp transport
        (``DefaultAioHttpClient``): one client, its connector sized to ``max_connections`` (its default
        is 100 connections, 20 kept alive). Otherwise the default httpx transport, whose connection
        pool scans all its connections for every request, so one pool of 64 connections costs ~30%
        more CPU per request than 8 pools of 8 (measured): one client per CONNECTIONS_PER_CLIENT slots,
        each request on the least busy one, all sharing one TLS context (loading the CA bundle costs
        ~20-150 ms per context, paid once instead of once per client).
        """
        transport = os.environ.get("TUNEWORTH_HTTP", "")
        if self._http_client is None and transport not in ("sdk", "httpx"):
            from tuneworth.providers.chat_http import ChatHTTP

            try:
                lean = ChatHTTP(
                    self._base_url,
                    self._key,
                    max_connections=self.max_connections,
                    timeout=self.timeout,
                    on_resend=self._count_resend,
                )
            except ImportError:  # a proxy to go through, and no aiohttp: the SDK's client below
                pass
            else:
                self._lean = True
                return [lean]
        import openai

        def client(http_client: Any) -> Any:
            # max_retries=0: ours are the only retries, so each one is counted and paced.
            return openai.AsyncOpenAI(
                api_key=self._key,
                base_url=self._base_url,
                timeout=self.timeout,
                max_retries=0,
                http_client=http_client,
            )

        if self._http_client is not None:
            return [client(self._http_client)]
        # The SDK's HTTP library (httpx, or httpx2 in newer SDKs), reached through its own defaults.
        limits_type = type(openai.DEFAULT_CONNECTION_LIMITS)
        if importlib.util.find_spec("aiohttp") is not None and transport != "httpx":
            c = self.max_connections
            limits = limits_type(max_connections=c, max_keepalive_connections=c)
            try:
                return [client(openai.DefaultAioHttpClient(limits=limits, timeout=self.timeout))]
            except RuntimeError:  # an SDK whose aiohttp client needs its extra (httpx-aiohttp): httpx below
                pass
        import ssl

        shards = -(-self.max_connections // CONNECTIONS_PER_CLIENT)
        per = limits_type(
            max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=CONNECTIONS_PER_CLIENT
        )
        tls = ssl.create_default_context(cafile=_ca_bundle())
        return [
            client(openai.DefaultAsyncHttpxClient(limits=per, verify=tls, timeout=self.timeout))
            for _ in range(shards)
        ]

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        out: list[Completion] = [Completion(error="not answered")] * len(requests)

        def keep(i: int, c: Completion) -> None:
            out[i] = c

        self.generate_each(requests, keep)
        return out

    def generate_each(
        self,
        requests: Sequence[ChatRequest],
        on_done: Callable[[int, Completion], None],
        *,
        on_batch: Callable[[Sequence[tuple[int, Completion]]], None] | None = None,
        on_answer: Callable[[int, Completion], None] | None = None,
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
        if self._loop is None or self._loop.is_closed():
            self._loop = _new_event_loop()
        if on_batch is None:

            def on_batch(answers: Sequence[tuple[int, Completion]]) -> None:
                for i, completion in answers:
                    on_done(i, completion)

        self._loop.run_until_complete(self._run(requests, on_batch, on_answer))

    async def _run(
        self,
        requests: Sequence[ChatRequest],
        on_batch: Callable[[Sequence[tuple[int, Completion]]], None],
        on_answer: Callable[[int, Completion], None] | None = None,
    ) -> None:
        if not self._clients:
            self._clients = self._make_clients()
            self._load = [0] * len(self._clients)
        if self._limit is None:
            self._limit = AdaptiveLimit(self.max_connections)
        handoff = _Handoff(asyncio.get_running_loop(), on_batch, on_answer)
        tasks = [asyncio.ensure_future(self._one(i, r, handoff)) for i, r in enumerate(requests)]
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

        fields = _status_fields(exc)
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

    async def _one(self, i: int, r: ChatRequest, handoff: _Handoff) -> None:
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
                # The SDK's generic ``post`` (its documented way to call any endpoint) with our
                # plain-JSON body: ``chat.completions.create`` would re-walk every message through
                # its TypedDict transform and build pydantic models: 5.0 vs 3.0 ms of CPU per request here.
                if self._lean:
                    raw = await self._clients[0].post(kwargs)
                else:
                    shard = min(range(len(self._load)), key=self._load.__getitem__)
                    self._load[shard] += 1
                    try:
                        raw = await self._clients[shard].post("/chat/completions", body=kwargs, cast_to=bytes)
                    finally:
                        self._load[shard] -= 1
                data = orjson.loads(raw)
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


class _Handoff:
    """Answers on their way to ``on_done``, handed over in groups two event-loop turns after they arrive.

    When a wave of answers arrives together, each answer frees a slot, and the request waiting for
    that slot is sent on the next turn. Handing the answers on (scoring, the record line) on the
    turn after that keeps that work out of the time between an answer and the next request; only
    ``keep`` (``on_answer``: the cache commit) runs before the slot is let go; every answer is still handed over, in arrival order, within
    the same run (``flush`` at its end). An exception from ``on_done`` cancels the run and is
    raised by it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_batch: Callable[[Sequence[tuple[int, Completion]]], None],
        on_answer: Callable[[int, Completion], None] | None = None,
    ) -> None:
        self.loop = loop
        self.on_batch = on_batch
        self.on_answer = on_answer
        self.pending: list[tuple[int, Completion]] = []
        self.scheduled = False
        self.error: BaseException | None = None
        self.tasks: Sequence[asyncio.Future[None]] = ()

    def keep(self, i: int, completion: Completion) -> None:
        """An answer just arrived, its slot not yet let go: ``on_answer`` (the cache commit) now."""
        if self.on_answer is not None:
            self.on_answer(i, completion)

    def put(self, i: int, completion: Completion) -> None:
        self.pending.append((i, completion))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.loop.call_soon, self.flush)

    def flush(self) -> None:
        self.scheduled = False
        batch, self.pending = self.pending, []
        if self.error is not None:
            return
        if not batch:
            return
        try:
            self.on_batch(batch)
        except BaseException as e:
            self.error = e
            for t in self.tasks:
                t.cancel()


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


def _ca_bundle() -> str | None:
    """certifi's CA bundle (what the SDK's HTTP client verifies against by default), if installed."""
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


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
