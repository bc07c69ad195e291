"""The FastAPI application: routes, Bearer auth, body limits, the error envelope, the worker process.

Auth and limits sit in one ASGI middleware in front of every route, so no handler can forget them.
Every error, including unknown routes and framework validation errors, leaves as OpenAI's envelope.
The training worker is a child process (``python -m tuneworth.serve.worker``) watched by a task that
restarts it if it dies.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tuneworth.errors import TuneworthError
from tuneworth.serve.config import ServeConfig
from tuneworth.serve.errors import APIError, from_tuneworth

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _envelope(status: int, message: str, type: str, code: str | None, param: str | None = None) -> JSONResponse:
    return JSONResponse(APIError(status, message, type=type, code=code, param=param).body(), status_code=status)


class Guard:
    """Bearer auth for ``/v1`` and request-size limits (Content-Length and streamed bytes)."""

    def __init__(self, app: Any, config: ServeConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = self.config.api_key
        if key and scope["path"].startswith("/v1"):
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not given or not hmac.compare_digest(given.encode(), key.encode()):
                message = ("You didn't provide an API key. You need to provide your API key in an Authorization "
                           "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)." if not given else
                           "Incorrect API key provided.")
                await _envelope(401, message, "invalid_request_error", "invalid_api_key")(scope, receive, send)
                return
        upload = scope["path"] == "/v1/files" and scope["method"] == "POST"
        limit = self.config.max_upload_bytes + 65536 if upload else self.config.max_body_bytes
        what = "upload" if upload else "request body"
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            await _envelope(413, f"The {what} is too large: {length} bytes, the limit is {limit} bytes.",
                            "invalid_request_error", "request_too_large")(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise APIError(413, f"The {what} is too large: the limit is {limit} bytes.",
                               code="request_too_large")
            return message

        await self.app(scope, counted, send)


def _start_worker(config: ServeConfig) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "tuneworth.serve.worker", "--data-dir", str(config.data_dir),
           "--parent", str(os.getpid())]
    return subprocess.Popen(cmd)


async def _watch_worker(app: FastAPI) -> None:
    """Restart the worker if it exits (a crash while training is then recovered by the new worker)."""
    while True:
        await asyncio.sleep(1.0)
        proc = app.state.worker
        if proc is not None and proc.poll() is not None:
            print(f"tuneworth serve: worker exited with {proc.returncode}; restarting it", file=sys.stderr)
            app.state.worker = _start_worker(app.state.config)


def create_app(config: ServeConfig) -> FastAPI:
    from tuneworth.serve import routes_chat, routes_files, routes_jobs
    from tuneworth.serve.batcher import Batcher
    from tuneworth.serve.pool import ModelPool
    from tuneworth.serve.store import Store

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(config.data_dir)
        app.state.store = store
        app.state.pool = ModelPool(config.models, store, max_adapters=config.max_adapters)
        app.state.batcher = Batcher(app.state.pool.resolve, max_batch=config.max_batch,
                                    max_wait_s=config.max_wait_ms / 1000)
        app.state.background = set()
        for row in store.query("SELECT id FROM jobs WHERE status='validating_files'"):
            routes_jobs.validate_job(store, row["id"], config.min_examples)
        app.state.worker = _start_worker(config) if config.worker else None
        watcher = asyncio.create_task(_watch_worker(app))
        try:
            yield
        finally:
            watcher.cancel()
            proc = app.state.worker
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    await asyncio.to_thread(proc.wait, 15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            app.state.batcher.close()
            store.close()

    app = FastAPI(title="tuneworth", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.add_middleware(Guard, config=config)
    app.include_router(routes_chat.router)
    app.include_router(routes_files.router)
    app.include_router(routes_jobs.router)

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(TuneworthError)
    async def tuneworth_error(request: Request, exc: TuneworthError) -> JSONResponse:
        err = from_tuneworth(exc)
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _envelope(404, f"Unknown request URL: {request.method} {request.url.path}.",
                             "invalid_request_error", "unknown_url")
        if exc.status_code == 405:
            return _envelope(405, f"Method {request.method} is not allowed for {request.url.path}.",
                             "invalid_request_error", "method_not_allowed")
        return _envelope(exc.status_code, str(exc.detail), "invalid_request_error", None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return _envelope(400, f"Invalid request: {first.get('msg', 'validation failed')}",
                         "invalid_request_error", "invalid_request", param)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _envelope(500, f"The server had an error while processing your request ({type(exc).__name__}).",
                         "server_error", None)

    @app.get("/health")
    def health() -> dict[str, Any]:
        proc = app.state.worker
        return {"status": "ok", "worker": proc is not None and proc.poll() is None,
                "batches": dict(app.state.batcher.batch_sizes)}

    return app


def serve(config: ServeConfig) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    config.check()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    with suppress(KeyboardInterrupt):
        uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False)
