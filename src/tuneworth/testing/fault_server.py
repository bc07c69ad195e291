"""An OpenAI-compatible chat-completions server with simulated latency and injected faults.

For tests and benchmarks of API clients (ours and peers'): every request waits ``latency_ms`` and is
then answered (by default with the last user message echoed back), unless a fault is drawn for it:

    rate_limit      429 ``rate_limit_exceeded`` with ``Retry-After`` (and ``retry-after-ms``), at once
    server_error    500 after the latency
    hang            no answer for ``hang_s`` seconds (the client's timeout has to fire)
    malformed       200 with a truncated JSON body
    quota           429 ``insufficient_quota`` (must stop a run)
    context_length  400 ``context_length_exceeded`` (must not be retried)

``faults = "request"`` draws for each request independently (so an item may fault several times);
``"item"`` draws once per distinct request body, on its first request only (a transient fault: the
retry succeeds). The server counts requests, outcomes, concurrent requests and requests per body
(``GET /stats``); ``POST /config`` replaces the configuration (JSON, unnamed keys take their
defaults) and resets the counts.

Run it: ``python -m tuneworth.testing.fault_server --port 8000 --latency-ms 200 --rate-limit 0.2``.
In tests: ``with serve_in_thread(FaultConfig(...)) as server: server.url, server.stats()``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import orjson

from tuneworth.errors import MissingDependencyError

try:  # FastAPI resolves the handlers' annotations at module level, so these cannot be imported lazily.
    from fastapi import FastAPI, Request, Response
except ImportError:  # pragma: no cover
    raise MissingDependencyError("fastapi", "serve") from None

FAULTS = ("rate_limit", "server_error", "hang", "malformed", "quota", "context_length")


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    """Simulated model latency before every answer (and before 500s and malformed bodies)."""
    rate_limit: float = 0.0
    """Share of requests answered 429 (rate_limit_exceeded)."""
    server_error: float = 0.0
    """Share answered 500."""
    hang: float = 0.0
    """Share never answered (for ``hang_s``)."""
    malformed: float = 0.0
    """Share answered 200 with a truncated JSON body."""
    quota: float = 0.0
    """Share answered 429 insufficient_quota."""
    context_length: float = 0.0
    """Share answered 400 context_length_exceeded."""
    retry_after: str | None = "1"
    """``Retry-After`` header on 429s, sent as is (seconds, decimals, or an HTTP date); None: no header."""
    retry_after_ms: float | None = None
    """``retry-after-ms`` header on 429s; None: no header."""
    hang_s: float = 3600.0
    faults: Literal["request", "item"] = "request"
    """``request``: every request draws; ``item``: only the first request of each distinct body draws."""
    seed: int = 0
    answer: str | None = None
    """Fixed answer text; None echoes the last user message."""
    api_key: str | None = None
    """If set, requests with another bearer token get 401."""

    def __post_init__(self) -> None:
        total = sum(getattr(self, f) for f in FAULTS)
        if any(getattr(self, f) < 0 for f in FAULTS) or total > 1:
            raise ValueError(f"fault shares must be >= 0 and add up to at most 1 (got {total:g})")


class ServerState:
    """Counts and fault draws. Touched only from the server's event loop (and read by tests)."""

    def __init__(self, config: FaultConfig) -> None:
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.requests = 0
        self.outcomes: Counter[str] = Counter()
        self.per_body: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def draw(self, body_key: str) -> str:
        c = self.config
        if c.faults == "item":
            if self.per_body[body_key] > 1:
                return "ok"
            u = random.Random(f"{c.seed}:{body_key}").random()
        else:
            u = self.rng.random()
        edge = 0.0
        for fault in FAULTS:
            edge += getattr(c, fault)
            if u < edge:
                return fault
        return "ok"

    def snapshot(self, bodies: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": self.requests,
            "outcomes": dict(self.outcomes),
            "distinct_bodies": len(self.per_body),
            "max_in_flight": self.max_in_flight,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "config": asdict(self.config),
        }
        if bodies:
            out["per_body"] = dict(self.per_body)
        return out


def body_key(payload: dict[str, Any]) -> str:
    """What identifies one distinct request: everything but the stream flag."""
    core = {k: v for k, v in payload.items() if k not in {"stream", "stream_options"}}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]


def _error(status: int, message: str, type_: str, code: str | None) -> tuple[int, bytes]:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return status, orjson.dumps(body)


def _completion(payload: dict[str, Any], text: str) -> bytes:
    messages = payload.get("messages") or []
    prompt_chars = sum(len(str(m.get("content") or "")) for m in messages if isinstance(m, dict))
    prompt_tokens, completion_tokens = max(1, prompt_chars // 4), max(1, len(text) // 4)
    return orjson.dumps(
        {
            "id": f"chatcmpl-{random.getrandbits(48):x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model", "fault-server"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


Answer = tuple[int, bytes, dict[str, str]]


async def chat(state: ServerState, raw: bytes, authorization: str | None) -> Answer:
    """One ``POST /chat/completions``: (status, JSON body, extra headers), after the latency and faults."""
    c = state.config
    state.first_at = state.first_at or time.time()
    state.requests += 1
    try:
        payload = orjson.loads(raw)
        if (
            not isinstance(payload, dict)
            or not payload.get("messages")
            or not isinstance(payload["messages"], list)
        ):
            raise ValueError("body must be a JSON object with a non-empty messages list")
    except ValueError as e:
        state.outcomes["invalid"] += 1
        return (*_error(400, f"invalid request: {e}", "invalid_request_error", None), {})
    key = body_key(payload)
    state.per_body[key] += 1
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        if c.api_key is not None and authorization != f"Bearer {c.api_key}":
            state.outcomes["auth"] += 1
            return (*_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key"), {})
        fault = state.draw(key)
        state.outcomes[fault] += 1
        if fault == "rate_limit":
            headers = {}
            if c.retry_after is not None:
                headers["retry-after"] = c.retry_after
            if c.retry_after_ms is not None:
                headers["retry-after-ms"] = f"{c.retry_after_ms:g}"
            return (*_error(429, "Rate limit reached, please retry", "requests", "rate_limit_exceeded"), headers)
        if fault == "quota":
            return (
                *_error(429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
                {},
            )
        if fault == "context_length":
            return (
                *_error(
                    400,
                    "This model's maximum context length is 8 tokens",
                    "invalid_request_error",
                    "context_length_exceeded",
                ),
                {},
            )
        if fault == "hang":
            await asyncio.sleep(c.hang_s)
        if c.latency_ms > 0:
            await asyncio.sleep(c.latency_ms / 1000)
        if fault == "server_error":
            return (*_error(500, "The server had an error", "server_error", None), {})
        messages = payload["messages"]
        text = c.answer
        if text is None:
            text = next(
                (
                    str(m.get("content"))
                    for m in reversed(messages)
                    if isinstance(m, dict) and m.get("role") == "user"
                ),
                "",
            )
        body = _completion(payload, text)
        if fault == "malformed":
            body = body[: len(body) // 2]
        return 200, body, {}
    finally:
        state.in_flight -= 1
        state.last_at = time.time()


CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})

ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def create_app(state: ServerState) -> ASGIApp:
    """The ASGI application over ``state``.

    ``POST /chat/completions`` is answered by a bare ASGI handler: the server's own CPU per request
    is part of every client's measured latency in the benchmarks, and FastAPI's request and
    response objects cost more than the rest of the handler. ``/stats`` and ``/config`` go
    through FastAPI.
    """
    app = FastAPI(title="tuneworth fault server", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/stats")
    async def stats(bodies: bool = False) -> dict[str, Any]:
        return state.snapshot(bodies)

    @app.post("/config", response_model=None)
    async def configure(request: Request) -> dict[str, Any] | Response:
        changes = json.loads(await request.body() or b"{}")
        try:
            state.configure(FaultConfig(**changes))
        except (TypeError, ValueError) as e:
            return Response(json.dumps({"error": str(e)}), status_code=400, media_type="application/json")
        return state.snapshot()

    async def asgi(
        scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in CHAT_PATHS:
            await app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        status, body, extra = await chat(state, b"".join(chunks), authorization)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi


class RunningServer:
    """A server started by ``serve_in_thread``; ``url`` is the OpenAI base URL (ending in /v1)."""

    def __init__(self, state: ServerState, url: str) -> None:
        self.state = state
        self.url = url

    def stats(self, bodies: bool = False) -> dict[str, Any]:
        return self.state.snapshot(bodies)

    def configure(self, **settings: Any) -> None:
        """Replace the configuration (unnamed settings take their defaults) and reset the counts."""
        self.state.configure(FaultConfig(**settings))


@contextmanager
def serve_in_thread(
    config: FaultConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningServer]:
    """Run the server on a background thread (port 0: any free port) for the duration of the block."""
    import uvicorn

    state = ServerState(config or FaultConfig())
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(state),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, name="fault-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fault server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(state, f"http://{host}:{bound}/v1")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    import click
    import uvicorn

    @click.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", type=int, default=8000, show_default=True)
    @click.option("--latency-ms", type=float, default=0.0, show_default=True)
    @click.option("--rate-limit", type=float, default=0.0, help="Share of requests answered 429.")
    @click.option(
        "--retry-after", default="1", show_default=True, help="Retry-After value on 429s ('' for none)."
    )
    @click.option("--retry-after-ms", type=float, default=None, help="retry-after-ms value on 429s.")
    @click.option("--server-error", type=float, default=0.0, help="Share answered 500.")
    @click.option("--hang", type=float, default=0.0, help="Share never answered.")
    @click.option("--hang-s", type=float, default=3600.0, show_default=True)
    @click.option("--malformed", type=float, default=0.0, help="Share answered with truncated JSON.")
    @click.option("--quota", type=float, default=0.0, help="Share answered 429 insufficient_quota.")
    @click.option(
        "--context-length", type=float, default=0.0, help="Share answered 400 context_length_exceeded."
    )
    @click.option("--faults", type=click.Choice(["request", "item"]), default="request", show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--answer", default=None, help="Fixed answer (default: echo the last user message).")
    @click.option("--api-key", default=None, help="Require this bearer token (401 otherwise).")
    def run(host: str, port: int, **options: Any) -> None:
        """Serve OpenAI-compatible chat completions with simulated latency and faults."""
        if options["retry_after"] == "":
            options["retry_after"] = None
        names = {f.name for f in fields(FaultConfig)}
        try:
            config = FaultConfig(**{k: v for k, v in options.items() if k in names})
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        click.echo(f"fault server listening on http://{host}:{port}/v1", err=True)
        uvicorn.run(
            create_app(ServerState(config)),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )

    run.main(args=argv, prog_name="python -m tuneworth.testing.fault_server")


if __name__ == "__main__":
    main()
