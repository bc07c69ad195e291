"""A scripted OpenAI-style endpoint for tests: an httpx2-style handler (``httpx2.Request -> httpx2.Response``)
behind a real local HTTP server (aiohttp.web on a thread), so the provider's real HTTP path is what
is tested (it posts through aiohttp, which has no in-process transport seam like httpx2's MockTransport).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import httpx2
from aiohttp import web

Handler = Callable[[httpx2.Request], httpx2.Response]


class ScriptedAPI:
    """``api.handler = fn`` answers every request; ``api.url`` is the base URL (ending in /v1)."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or (lambda request: httpx2.Response(404))
        self.loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/v1"
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def _serve(self, request: web.Request) -> web.Response:
        scripted = httpx2.Request(
            request.method, str(request.url), headers=dict(request.headers), content=await request.read()
        )
        answer = self.handler(scripted)
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
        return web.Response(status=answer.status_code, body=answer.read(), headers=headers)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
