"""The provider's lean HTTP path (models/chat_http.py + models/http1.py) against the SDK's, the HTTP/1.1
response parser byte by byte, the adaptive limit's wake-ups, and answers handed over after the next sends."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tuneworth.config.task import ModelConfig
from tuneworth.errors import AuthError, QuotaError
from tuneworth.providers.base import ChatRequest, Completion
from tuneworth.providers.http1 import ProtocolError, _Connection
from tuneworth.providers.openai import OpenAIProvider
from tuneworth.providers.retry import AdaptiveLimit
from tuneworth.testing.fault_server import FaultConfig, RunningServer, serve_in_thread


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(FaultConfig()) as s:
        yield s


def _provider(server: RunningServer, monkeypatch: pytest.MonkeyPatch, transport: str, **cfg: Any) -> OpenAIProvider:
    monkeypatch.setenv("TW_TEST_KEY", "sk-test")
    monkeypatch.setenv("TUNEWORTH_HTTP", transport)
    settings: dict[str, Any] = {"max_connections": 4, "timeout": 5.0, "max_retries": 0, **cfg}
    return OpenAIProvider(
        "m", ModelConfig(name="openai/m", base_url=server.url, api_key_env="TW_TEST_KEY", **settings)
    )


def _reqs(n: int) -> list[ChatRequest]:
    return [ChatRequest(messages=({"role": "user", "content": f"q{i}"},), max_tokens=4) for i in range(n)]


def _outcome(server: RunningServer, monkeypatch: pytest.MonkeyPatch, transport: str, **faults: Any) -> Any:
    server.configure(**faults)
    p = _provider(server, monkeypatch, transport)
    try:
        out = p.generate(_reqs(2))
    except (AuthError, QuotaError) as e:
        return type(e).__name__, e.message
    finally:
        p.close()
    return [(c.text, c.error, c.meta.get("failure")) for c in out], dict(p.stats)


@pytest.mark.parametrize(
    "faults",
    [
        {},
        {"rate_limit": 1.0, "retry_after": "7"},
        {"server_error": 1.0},
        {"malformed": 1.0},
        {"context_length": 1.0},
        {"quota": 1.0},
        {"api_key": "sk-other"},
    ],
    ids=["ok", "429", "500", "malformed", "context", "quota", "auth"],
)
def test_lean_path_reports_what_the_sdk_path_reports(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, faults: dict[str, Any]
) -> None:
    lean = _outcome(server, monkeypatch, "", **faults)
    sdk = _outcome(server, monkeypatch, "sdk", **faults)
    if faults.get("malformed"):  # the JSON parsers word their errors differently; the kind is the same
        assert [r[2] for r in lean[0]] == [r[2] for r in sdk[0]] == ["malformed"] * 2
        assert lean[1] == sdk[1]
    else:
        assert lean == sdk


def test_bad_base_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneworth.errors import ConfigError
    from tuneworth.providers.chat_http import ChatHTTP

    with pytest.raises(ConfigError, match="not an http"):
        ChatHTTP("ftp://example.com/v1", "k", max_connections=1, timeout=1)


class _Transport:
    def __init__(self) -> None:
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data

    def is_closing(self) -> bool:
        return False


BODY = b'{"choices": [{"message": {"content": "ok"}}]}'
RESPONSES = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-A: b\r\n\r\n%s" % (len(BODY), BODY),
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"5;ext=1\r\n"
    + BODY[:5]
    + b"\r\n"
    + b"%x\r\n" % (len(BODY) - 5)
    + BODY[5:]
    + b"\r\n0\r\nX-Trailer: 1\r\n\r\n",
    "close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY,
}


def _feed(raw: bytes, cuts: list[int], eof: bool) -> tuple[_Connection, asyncio.Future[Any]]:
    loop = asyncio.new_event_loop()
    conn = _Connection()
    conn.connection_made(_Transport())  # type: ignore[arg-type]
    fut: asyncio.Future[Any] = loop.create_future()
    conn.send(b"GET / HTTP/1.1\r\n\r\n", fut)
    last = 0
    for cut in [*cuts, len(raw)]:
        conn.data_received(raw[last:cut])
        last = cut
    if eof:
        conn.connection_lost(None)
    loop.close()
    return conn, fut


@pytest.mark.parametrize("kind", sorted(RESPONSES))
def test_http1_parser_at_every_split(kind: str) -> None:
    raw = RESPONSES[kind]
    rng = random.Random(kind)
    splits = [[i] for i in range(1, len(raw))] + [sorted(rng.sample(range(1, len(raw)), 5)) for _ in range(30)]
    for cuts in splits:
        conn, fut = _feed(raw, cuts, eof=kind == "close")
        assert fut.done(), (kind, cuts)
        status, _, body = fut.result()
        assert (status, body) == (200, BODY)
        assert conn.keep_alive == (kind != "close")
    if kind != "close":  # complete before EOF; header names are lower-cased
        conn, fut = _feed(raw, [], eof=False)
        assert fut.done() and {"content-length", "transfer-encoding"} & set(fut.result()[1])


def test_http1_parser_errors() -> None:
    _, fut = _feed(b"SMTP ready\r\n\r\n", [], eof=False)
    assert isinstance(fut.exception(), ProtocolError)
    _, fut = _feed(RESPONSES["length"][:-5], [], eof=True)  # cut short by the server
    assert isinstance(fut.exception(), ProtocolError)
    _, fut = _feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", [], eof=True)
    assert isinstance(fut.exception(), ProtocolError)
    _, fut = _feed(b"", [], eof=True)  # closed before a byte came back
    assert isinstance(fut.exception(), ConnectionResetError)
    _, fut = _feed(b"HTTP/1.1 204 No Content\r\n\r\n", [], eof=False)
    assert fut.result() == (204, {}, b"")


def test_adaptive_limit_holds_under_cuts_and_cancellations() -> None:
    async def run() -> tuple[int, int]:
        lim = AdaptiveLimit(8, cooldown=0)
        peak = 0
        done = 0

        async def one(i: int) -> None:
            nonlocal peak, done
            await lim.acquire()
            try:
                peak = max(peak, lim.in_flight)
                assert lim.in_flight <= lim.limit or lim.cuts  # a cut may land while slots are held
                await asyncio.sleep(random.random() / 500)
                if i % 17 == 0:
                    lim.rate_limited()
                else:
                    lim.success()
            finally:
                lim.release_nowait()
            done += 1

        tasks = [asyncio.ensure_future(one(i)) for i in range(300)]
        await asyncio.sleep(0.005)
        for t in tasks[150:170]:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert lim.in_flight == 0 and lim._woken == 0
        return peak, done

    random.seed(0)
    peak, done = asyncio.run(run())
    assert peak <= 8 and 280 <= done <= 300


def test_answers_reach_on_done_after_the_next_requests_and_errors_stop_the_run(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneworth.providers.chat_http import ChatHTTP

    sent = 0
    post = ChatHTTP.post

    async def counted(self: ChatHTTP, body: dict[str, Any]) -> bytes:
        nonlocal sent
        sent += 1
        return await post(self, body)

    monkeypatch.setattr(ChatHTTP, "post", counted)
    server.configure(latency_ms=20)
    p = _provider(server, monkeypatch, "", max_connections=2)
    seen: list[tuple[int, int]] = []

    def on_done(i: int, c: Completion) -> None:
        assert c.error is None
        seen.append((i, sent))

    p.generate_each(_reqs(6), on_done)
    assert sorted(i for i, _ in seen) == list(range(6))
    # The first answer is handed over once the request its slot let go has been sent.
    assert seen[0][1] >= 3

    def failing(i: int, c: Completion) -> None:
        raise RuntimeError("disk full")

    server.configure(latency_ms=20)
    with pytest.raises(RuntimeError, match="disk full"):
        p.generate_each(_reqs(20), failing)
    assert sent < 6 + 20  # the run stopped: the rest was never sent
    p.close()


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    """Kept alive, then closed by the server while our loop was not running: the next request goes
    out once more on a new connection, with no error and no retry counted."""
    import socket
    import threading

    from tuneworth.providers.http1 import HTTP1Pool, request_head

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections = 0

    def serve() -> None:  # one answer per connection, kept alive, then closed 20 ms later
        nonlocal connections
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections += 1
            data = b""
            while b"\r\n\r\n{}" not in data:
                data += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            time.sleep(0.02)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()

    async def run() -> list[int]:
        pool = HTTP1Pool("http", "127.0.0.1", port, None)
        head = request_head("POST", "/", pool.host_header, {})
        statuses = [(await pool.request(head, b"{}"))[0]]
        time.sleep(0.1)  # the server closes the kept-alive connection while our loop is not running
        statuses.append((await pool.request(head, b"{}"))[0])
        await asyncio.sleep(0.1)  # closed while the loop runs: seen, and not reused
        statuses.append((await pool.request(head, b"{}"))[0])
        await pool.close()
        return statuses

    try:
        assert asyncio.run(run()) == [200, 200, 200]
    finally:
        listener.close()
    assert connections == 3
