"""A minimal HTTP/1.1 client for one endpoint: keep-alive connections, one request at a time on each.

Enough HTTP for ``POST /chat/completions`` against OpenAI and compatible servers, and nothing else:
``Content-Length`` and ``chunked`` bodies, bodies ended by the server closing the connection,
``Connection: close``, TLS through asyncio's ``ssl``. No compression is asked for (no
``Accept-Encoding``), no redirects, no proxies (``chat_http`` uses aiohttp when the environment
names one). A general client (aiohttp) costs ~0.32 ms of CPU per request here (a bare client at 64
in flight, uvloop); this one ~0.10 ms, and on a wave of answers arriving together that CPU
is what delays the next requests (benchmarks/README.md, "API evaluation").

Errors: ``ConnectionError`` when the server closes the connection before the response is complete,
``ValueError`` for a response that is not HTTP, ``TimeoutError`` from the caller's timeout.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from typing import cast

Response = tuple[int, dict[str, str], bytes]


class ProtocolError(ValueError):
    """The server's answer is not a well-formed HTTP/1.1 response."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``waiter`` gets the next complete response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0
        self._head: tuple[int, dict[str, str]] | None = None
        self._body_start = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is not None and not self.waiter.done():
            try:
                response = self._parse(eof=False)
            except ProtocolError as e:
                self.keep_alive = False
                self.waiter.set_exception(e)
                return
            if response is not None:
                self.waiter.set_result(response)

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            response = self._parse(eof=True)
        except ProtocolError as e:
            waiter.set_exception(e)
            return
        if response is not None:
            waiter.set_result(response)
        else:
            waiter.set_exception(ConnectionResetError("the server closed the connection before the response was complete"))

    def send(self, data: bytes, waiter: asyncio.Future[Response]) -> None:
        assert self.transport is not None
        self.buf.clear()
        self._head = None
        self.waiter = waiter
        self.transport.write(data)

    def _parse(self, *, eof: bool) -> Response | None:
        """The complete response in ``buf``, or None while more bytes are needed."""
        if self._head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if eof and self.buf:
                    raise ProtocolError("the connection closed inside the response headers")
                return None
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise ProtocolError(f"not an HTTP response: {lines[0][:80]!r}")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    raise ProtocolError(f"malformed header line: {line[:80]!r}")
                headers[name.strip().lower()] = value.strip()
            status = int(parts[1])
            if parts[0] == "HTTP/1.0" or headers.get("connection", "").lower() == "close":
                self.keep_alive = False
            self._head = (status, headers)
            self._body_start = end + 4
        status, headers = self._head
        data = self.buf
        start = self._body_start
        if status in (204, 304) or 100 <= status < 200:
            return status, headers, b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = _dechunk(data, start)
            if body is None:
                if eof:
                    raise ProtocolError("the connection closed inside a chunked body")
                return None
            return status, headers, body
        length = headers.get("content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                raise ProtocolError(f"bad Content-Length {length!r}") from None
            if len(data) - start < n:
                if eof:
                    raise ProtocolError(f"the connection closed after {len(data) - start} of {n} body bytes")
                return None
            return status, headers, bytes(data[start : start + n])
        # No length: the body ends when the server closes the connection.
        self.keep_alive = False
        return (status, headers, bytes(data[start:])) if eof else None


def _dechunk(data: bytearray, pos: int) -> bytes | None:
    """The body of a complete chunked message starting at ``pos``, or None if incomplete."""
    out = bytearray()
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = bytes(data[pos:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
        pos = eol + 2
        if size == 0:
            # Trailers (usually none) end with an empty line.
            if data.startswith(b"\r\n", pos):
                return bytes(out)
            return bytes(out) if data.find(b"\r\n\r\n", pos) >= 0 else None
        if len(data) < pos + size + 2:
            return None
        out += data[pos : pos + size]
        pos += size + 2


IDLE_EXPIRY = 2.0
"""Seconds a kept-alive connection may sit unused before it is closed rather than reused: servers close
idle connections on their own (uvicorn after 5 s), and one they closed while our loop was not
running (between rungs) looks open until the next read."""


class HTTP1Pool:
    """Keep-alive connections to one origin; ``await request(path, headers, body)`` -> (status, headers, body).

    Headers are given as one pre-encoded block (every request to the endpoint sends the same ones).
    At most as many connections are open as requests are in flight: the caller bounds that.
    """

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        on_resend: Callable[[], None] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.on_resend = on_resend
        """Called each time a request goes out once more (the server may have seen the first send)."""
        self.tls = tls if scheme == "https" else None
        default = 443 if scheme == "https" else 80
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal
        self.host_header = name if port == default else f"{name}:{port}"
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()

    async def _connection(self) -> tuple[_Connection, bool]:
        """A connection to send on, and whether it was used before."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if (
                not conn.closed
                and conn.transport is not None
                and not conn.transport.is_closing()
                and now - conn.idle_since < IDLE_EXPIRY
            ):
                return conn, True
            self._drop(conn, abort=False)
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            _Connection, self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
        )
        self._open.add(conn)
        return conn, False

    def _drop(self, conn: _Connection, *, abort: bool) -> None:
        self._open.discard(conn)
        if conn.transport is not None:
            if abort:
                conn.transport.abort()
            else:
                conn.transport.close()

    async def request(self, head: bytes, body: bytes) -> Response:
        """Send ``head`` (request line and headers, without Content-Length and the blank line) and ``body``.

        A kept-alive connection the server closed just before our request (its idle timeout) fails
        before a byte of answer arrives; the request is then sent once more on a new connection."""
        data = b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)
        while True:
            conn, reused = await self._connection()
            waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
            ok = False
            try:
                conn.send(data, waiter)
                response = await waiter
                ok = True
                return response
            except ConnectionResetError:
                if not reused or conn.buf:
                    raise
                if self.on_resend is not None:
                    self.on_resend()
                continue  # a stale connection, nothing answered on it: a new one
            finally:
                conn.waiter = None
                if ok and conn.keep_alive and not conn.closed:
                    conn.idle_since = time.monotonic()
                    self._idle.append(conn)
                else:  # timed out, cancelled, failed or not reusable: never hand this connection out again
                    self._drop(conn, abort=not ok)

    async def close(self) -> None:
        for conn in list(self._open):
            if conn.transport is not None:
                conn.transport.close()
        self._open.clear()
        self._idle.clear()


def request_head(method: str, path: str, host_header: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")
