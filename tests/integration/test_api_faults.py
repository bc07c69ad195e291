"""The OpenAI provider against the fault server: every fault kind alone and mixed, concurrency bounds,
Retry-After, non-retryable and fatal errors, a server that drops the connection after reading the
request. Real HTTP (aiohttp), a real (local) server; every request the server sees is one we counted."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from tuneworth.config.task import ModelConfig
from tuneworth.errors import AuthError, QuotaError
from tuneworth.providers.base import ChatRequest
from tuneworth.providers.cache import request_key
from tuneworth.providers.openai import OpenAIProvider
from tuneworth.providers.retry import AdaptiveLimit, Backoff, parse_retry_after
from tuneworth.testing.fault_server import FaultConfig, RunningServer, serve_in_thread


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(FaultConfig()) as s:
        yield s


def _provider(server: RunningServer, monkeypatch: pytest.MonkeyPatch, **cfg: object) -> OpenAIProvider:
    monkeypatch.setenv("TW_TEST_KEY", "sk-test")
    settings: dict[str, object] = {"max_connections": 8, "timeout": 5.0, "max_retries": 4, **cfg}
    p = OpenAIProvider(
        "m",
        ModelConfig(name="openai/m", base_url=server.url, api_key_env="TW_TEST_KEY", **settings),  # type: ignore[arg-type]
    )
    p.backoff = Backoff(base=0.01, cap=0.05, rng=random.Random(0))
    return p


def _reqs(n: int, tag: str = "q") -> list[ChatRequest]:
    return [ChatRequest(messages=({"role": "user", "content": f"{tag}{i}"},), max_tokens=4) for i in range(n)]


def test_plain_answers_and_concurrency_bound(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.configure(latency_ms=40)
    p = _provider(server, monkeypatch, max_connections=6)
    t0 = time.perf_counter()
    out = p.generate(_reqs(30))
    elapsed = time.perf_counter() - t0
    assert [c.text for c in out] == [f"q{i}" for i in range(30)]
    st = server.stats()
    assert st["requests"] == 30 and st["max_in_flight"] == 6  # the pool is full and never exceeded
    assert elapsed >= 5 * 0.040  # 30 requests / 6 slots = 5 rounds of 40 ms at least
    assert p.stats["requests"] == 30 and p.stats["retries"] == 0


@pytest.mark.parametrize(
    ("retry_after", "retry_after_ms", "wait"),
    [("0.3", None, 0.3), (None, 250.0, 0.25), ("5", 200.0, 0.2)],  # retry-after-ms wins over Retry-After
)
def test_rate_limit_waits_what_the_server_asks(
    server: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
    retry_after: str | None,
    retry_after_ms: float | None,
    wait: float,
) -> None:
    server.configure(rate_limit=1.0, faults="item", retry_after=retry_after, retry_after_ms=retry_after_ms)
    p = _provider(server, monkeypatch)
    t0 = time.perf_counter()
    out = p.generate(_reqs(10))
    elapsed = time.perf_counter() - t0
    assert all(c.error is None for c in out)
    assert wait <= elapsed < 3.0  # waited the server's time: not our 10 ms backoff, nor the 5 s header
    st = server.stats()
    assert st["requests"] == 20 and st["outcomes"] == {"rate_limit": 10, "ok": 10}
    assert p.stats["rate_limit"] == 10 and p.concurrency["cuts"] >= 1 and p.concurrency["lowest"] < 8


@pytest.mark.parametrize("fault", ["server_error", "malformed", "hang"])
def test_transient_faults_are_retried(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    server.configure(**{fault: 1.0, "faults": "item", "hang_s": 30.0})
    p = _provider(server, monkeypatch, timeout=1.5)
    out = p.generate(_reqs(12, fault))
    assert [c.text for c in out] == [f"{fault}{i}" for i in range(12)]
    assert all(c.meta.get("attempts") == 2 for c in out)
    assert server.stats()["requests"] == 24
    kind = {"hang": "timeout"}.get(fault, fault)
    assert p.stats[kind] == 12 and p.stats["retries"] == 12


def test_persistent_failure_gives_up_with_the_reason(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.configure(server_error=1.0)
    p = _provider(server, monkeypatch, max_retries=2)
    out = p.generate(_reqs(5))
    assert all(c.error and "HTTP 500" in c.error and "gave up after 3 attempts" in c.error for c in out)
    assert server.stats()["requests"] == 15  # 1 + 2 retries each, and no hidden retries


def test_context_length_is_not_retried(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.configure(context_length=1.0)
    p = _provider(server, monkeypatch)
    out = p.generate(_reqs(4))
    assert all(c.error and c.error.startswith("ContextLengthError") for c in out)
    assert server.stats()["requests"] == 4


def test_api_errors_are_never_cached(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Through Model's streaming path: answers are cached as they arrive, failed items never."""
    from tuneworth.providers.cache import CompletionCache
    from tuneworth.providers.model import Model

    server.configure(context_length=0.5, seed=3)
    cache = CompletionCache(tmp_path / "c.sqlite")
    out = Model(_provider(server, monkeypatch), cache=cache).generate(_reqs(12))
    failed = sum(c.error is not None for c in out)
    assert 0 < failed < 12 and cache.stats()["entries"] == 12 - failed
    server.configure()  # the same requests again: the failed ones are asked for, the rest come from the cache
    again = Model(_provider(server, monkeypatch), cache=cache).generate(_reqs(12))
    assert all(c.error is None for c in again) and server.stats()["requests"] == failed
    assert sum(bool(c.meta.get("cached")) for c in again) == 12 - failed


def test_other_4xx_is_not_retried(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.configure()
    p = _provider(server, monkeypatch)
    # The server rejects a body without a messages list with 400.
    bad = ChatRequest(messages=(), max_tokens=4)
    [c] = p.generate([bad])
    assert c.error and "HTTP 400" in c.error and server.stats()["requests"] == 1


def test_quota_and_auth_stop_the_run(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.configure(quota=0.5, latency_ms=5)
    with pytest.raises(QuotaError, match="no quota left"):
        _provider(server, monkeypatch).generate(_reqs(20))
    server.configure(api_key="sk-right")
    with pytest.raises(AuthError, match="refused our credentials"):
        _provider(server, monkeypatch).generate(_reqs(3))


def test_mixed_faults_complete_every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server of its own: requests still in flight from an earlier test's stopped run (a quota
    # stop leaves some) must not land in this test's counts.
    config = FaultConfig(
        latency_ms=5,
        rate_limit=0.2,
        server_error=0.05,
        hang=0.03,
        malformed=0.03,
        retry_after="0.05",
        hang_s=30.0,
    )
    with serve_in_thread(config) as server:
        p = _provider(server, monkeypatch, max_connections=16, timeout=1.5, max_retries=10)
        out = p.generate(_reqs(80, "mix"))
        assert [c.text for c in out] == [f"mix{i}" for i in range(80)]
        st = server.stats()
        # On a loaded machine a request our timeout gave up on can reach the server's counter after
        # the run returns: give the server a moment to count what was sent (never more than was sent).
        deadline = time.monotonic() + 5
        while st["requests"] < p.stats["requests"] and time.monotonic() < deadline:
            time.sleep(0.05)
            st = server.stats()
        p.close()
    faults = {k: n for k, n in st["outcomes"].items() if k != "ok"}
    assert set(faults) == {"rate_limit", "server_error", "hang", "malformed"}
    # Every request the server saw is one we sent and counted (no hidden retries); every fault but a
    # slow OK answer cut off by our timeout on a loaded machine led to one retry.
    assert st["requests"] == sum(st["outcomes"].values()) == p.stats["requests"] == 80 + p.stats["retries"]
    assert p.stats["retries"] >= sum(faults.values())


class DroppingServer:
    """A raw HTTP/1.1 server on a thread that reads each request whole (head and Content-Length body),
    counts it, then, when ``drop(nth_on_this_connection, nth_of_this_body)`` says so, closes the
    connection without answering: the request reached the server, and a client cannot tell whether
    it was processed. Other requests are answered (echo), the connection kept alive."""

    def __init__(self, drop: Callable[[int, int], bool]) -> None:
        import asyncio
        import threading

        self.drop = drop
        self.requests = 0
        self.per_body: dict[bytes, int] = {}
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def _handle(self, reader: Any, writer: Any) -> None:
        import asyncio
        import json

        on_connection = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.requests += 1
                on_connection += 1
                seen = self.per_body[body] = self.per_body.get(body, 0) + 1
                if self.drop(on_connection, seen):
                    break  # read, counted, never answered: the connection is dropped
                text = json.loads(body)["messages"][-1]["content"]
                answer = json.dumps({"choices": [{"message": {"content": text}, "finish_reason": "stop"}]})
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\n\r\n{answer}".encode()
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    def close(self) -> None:
        import asyncio

        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _drop_provider(url: str, monkeypatch: pytest.MonkeyPatch, **cfg: Any) -> OpenAIProvider:
    monkeypatch.setenv("TW_TEST_KEY", "sk-test")
    config = ModelConfig(name="openai/m", base_url=url, api_key_env="TW_TEST_KEY", timeout=5.0, **cfg)
    p = OpenAIProvider("m", config)
    p.backoff = Backoff(base=0.01, cap=0.05, rng=random.Random(0))
    return p


def test_a_request_the_server_read_then_dropped_is_resent_only_as_a_counted_bounded_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server read the request (it may have processed it, and billed it): sending it again is a
    retry, counted as one, within max_retries; never a silent re-send (the old HTTP/1.1 client's
    one re-send on a closed kept-alive connection was not counted as a retry)."""
    server = DroppingServer(lambda on_connection, seen: True)
    try:
        p = _drop_provider(server.url, monkeypatch, max_connections=2, max_retries=3)
        out = p.generate(_reqs(3, "drop"))
        p.close()
    finally:
        server.close()
    assert all(c.error is not None and "gave up after 4 attempts" in c.error for c in out)
    assert all(c.meta["failure"] == "connection" for c in out)
    # Our count equals the server's; every request beyond the first of each item is a counted retry.
    assert server.requests == p.stats["requests"] == 3 * 4
    assert p.stats["retries"] == 3 * 3 and p.stats["connection"] == 3 * 4


def test_a_request_dropped_on_a_kept_alive_connection_is_a_counted_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server answers the first request of each connection and drops the second after reading
    it. Fails on the hand-written HTTP/1.1 client of 83638b4: it sent such a request once more on a
    new connection without counting a retry (``resent``), outside ``max_retries``."""
    server = DroppingServer(lambda on_connection, seen: on_connection >= 2)
    try:
        p = _drop_provider(server.url, monkeypatch, max_connections=1, max_retries=3)
        out = p.generate(_reqs(5, "alive"))
        p.close()
    finally:
        server.close()
    assert all(c.text == f"alive{i}" or (c.meta["failure"] == "connection") for i, c in enumerate(out))
    assert sum(c.error is None for c in out) >= 3
    # Every request the server read is one we sent and counted: one per item plus counted retries,
    # and every retry answered a dropped request (at most max_retries per item).
    dropped = server.requests - sum(c.error is None for c in out)
    assert server.requests == p.stats["requests"] == 5 + p.stats["retries"]
    assert p.stats["connection"] == dropped and p.stats["retries"] >= 2
    assert all(c.meta.get("attempts", 1) <= 4 for c in out)


def test_a_dropped_request_is_retried_once_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    server = DroppingServer(lambda on_connection, seen: seen == 1)
    try:
        p = _drop_provider(server.url, monkeypatch, max_connections=4, max_retries=2)
        out = p.generate(_reqs(10, "once"))
        p.close()
    finally:
        server.close()
    assert [c.text for c in out] == [f"once{i}" for i in range(10)]
    assert all(c.meta["attempts"] == 2 for c in out)
    assert server.requests == p.stats["requests"] == 20 and p.stats["retries"] == 10


def test_retry_after_parsing() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "150", "retry-after": "9"}) == 0.15
    now = time.time()
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(
        30, abs=1
    )
    assert parse_retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    for garbage in ("soon", "-1", "nan", ""):
        assert parse_retry_after({"retry-after": garbage}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_with_jitter_and_honours_the_server() -> None:
    b = Backoff(base=0.5, cap=4.0, rng=random.Random(1))
    delays = [b.delay(n) for n in range(1, 8)]
    for n, d in zip(range(1, 8), delays, strict=True):
        ceiling = min(4.0, 0.5 * 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert len({round(b.delay(3), 6) for _ in range(10)}) > 1  # jittered
    assert 1.0 <= b.delay(1, retry_after=1.0) <= 1.1


def test_adaptive_limit_cuts_once_per_cooldown_and_grows_back() -> None:
    lim = AdaptiveLimit(16, cooldown=60)
    lim.rate_limited()
    lim.rate_limited()  # same overload: no second cut
    assert lim.limit == 12 and lim.cuts == 1
    for _ in range(12):
        lim.success()
    assert lim.limit == 13
    for _ in range(1000):
        lim.success()
    assert lim.limit == 16  # never above max_connections


def test_cache_key_changes_with_every_generation_parameter() -> None:
    base = ChatRequest(messages=({"role": "user", "content": "a"},))
    changed = {
        "messages": ({"role": "user", "content": "b"},),
        "max_tokens": 65,
        "temperature": 0.5,
        "stop": ("\n",),
        "response_format": {"type": "json_object"},
        "seed": 1,
        "stop_after_json": True,
        "choices": ("a", "b"),
        "top_p": 0.5,
        "logprobs": 2,
    }
    assert set(changed) == {f.name for f in dataclasses.fields(ChatRequest)}  # a new field must be added here
    k = request_key("openai/m@http://a/v1", base)
    for name, value in changed.items():
        assert request_key("openai/m@http://a/v1", dataclasses.replace(base, **{name: value})) != k, name
    assert request_key("openai/m@http://b/v1", base) != k  # base URL is part of the model identity
    assert request_key("openai/m@http://a/v1", dataclasses.replace(base)) == k


def test_fault_server_cli_rejects_bad_shares(tmp_path: Path) -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "tuneworth.testing.fault_server", "--rate-limit", "0.8", "--hang", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "add up to at most 1" in r.stderr and "Traceback" not in r.stderr


PARITY = {
    # What the removed HTTP/1.1 client and the SDK path both reported on 83638b4 (checked side by side
    # before removing them): each item's error and failure kind, or the error that stops the run.
    "429": ("RateLimitError: rate limited: Error code: 429 - Rate limit reached, please retry (gave up after 1 attempts)", "rate_limit"),
    "500": ("ProviderError: HTTP 500: Error code: 500 - The server had an error (gave up after 1 attempts)", "server_error"),
    "context": ("ContextLengthError: prompt too long for the model: Error code: 400 - This model's maximum context length is 8 tokens", "context_length"),
    "malformed": ("ProviderError: malformed response (JSONDecodeError", "malformed"),
    "quota": ("QuotaError", "the account has no quota left (insufficient_quota: Error code: 429 - You exceeded your current quota)"),
    "auth": ("AuthError", "the server refused our credentials (HTTP 401: Error code: 401 - Incorrect API key provided)"),
}
FAULTS_OF = {
    "429": {"rate_limit": 1.0, "retry_after": "7"},
    "500": {"server_error": 1.0},
    "context": {"context_length": 1.0},
    "malformed": {"malformed": 1.0},
    "quota": {"quota": 1.0},
    "auth": {"api_key": "sk-other"},
}


@pytest.mark.parametrize("fault", sorted(PARITY))
def test_errors_map_to_ours_exactly_as_before(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    server.configure(**FAULTS_OF[fault])
    p = _provider(server, monkeypatch, max_retries=0)
    expected = PARITY[fault]
    try:
        if fault in ("quota", "auth"):
            with pytest.raises((AuthError, QuotaError)) as info:
                p.generate(_reqs(2))
            assert type(info.value).__name__ == expected[0]
            assert info.value.message == f"{p.model_id}: {expected[1]}"
            return
        out = p.generate(_reqs(2))
    finally:
        p.close()
    assert all(c.error is not None and c.error.startswith(expected[0]) for c in out)
    assert [c.meta["failure"] for c in out] == [expected[1]] * 2
    assert dict(p.stats) == {"requests": 2, expected[1]: 2}


@pytest.mark.parametrize("fault", ["429", "500", "context", "quota", "auth"])
def test_error_answers_carry_what_the_sdk_reads(server: RunningServer, fault: str) -> None:
    """Our HTTPStatusError and the official SDK's APIStatusError, on the same error answer."""
    import asyncio

    import openai

    from tuneworth.providers.openai_http import ChatSession, HTTPStatusError

    server.configure(**FAULTS_OF[fault])
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 4}
    with (
        openai.OpenAI(api_key="sk-test", base_url=server.url, max_retries=0) as client,
        pytest.raises(openai.APIStatusError) as sdk,
    ):
        client.chat.completions.create(**body)  # type: ignore[call-overload]

    async def ours() -> HTTPStatusError:
        session = ChatSession(server.url, "sk-test", max_connections=1, timeout=5.0)
        try:
            await session.post(body)
        except HTTPStatusError as e:
            return e
        finally:
            await session.close()
        raise AssertionError("no error answer")

    mine = asyncio.run(ours())
    assert mine.status_code == sdk.value.status_code
    assert mine.message == sdk.value.message
    assert mine.code == sdk.value.code and mine.type == sdk.value.type
    assert mine.headers.get("retry-after") == sdk.value.response.headers.get("retry-after")
