"""A lean HTTP path for ``POST /chat/completions``: keep-alive connections, bodies in and out as orjson bytes.

The OpenAI SDK builds every request through its option models, httpx request objects, URL parsing
and header normalisation: ~1-2 ms of CPU per request here, more than everything else the engine does
per item (benchmarks/README.md, "API evaluation"). Requests on the hot path need none of it: the URL,
headers and connection pool are the same for every request. This module sends the body the provider
built, reads the bytes, and reports a non-2xx answer as ``HTTPStatusError`` carrying exactly what the
SDK's ``APIStatusError`` would (status, ``Error code: N - <message>``, the error's ``code`` and
``type``, the headers), so the provider classifies both paths with the same rules (``openai.classify``).

Headers sent: ``Authorization: Bearer <key>``, JSON content type, and ``OpenAI-Organization`` /
``OpenAI-Project`` from ``OPENAI_ORG_ID`` / ``OPENAI_PROJECT_ID`` when set (as the SDK does).
A proxy named by the environment is used (read once, ``env_proxy``; requests then go through
aiohttp). HTTPS verifies against certifi's bundle when installed (the SDK's default), else the
system's.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from typing import Any

import orjson

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class HTTPStatusError(Exception):
    """A non-2xx answer, with the fields the provider's error classification reads."""

    def __init__(self, status_code: int, raw: bytes, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.headers = headers
        self.message = f"Error code: {status_code}"
        self.code: str | None = None
        self.type: str | None = None
        self.body: Any = None
        text = raw.decode("utf-8", "replace").strip()
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.body = text
        else:
            error = body.get("error", body) if isinstance(body, dict) else None
            self.body = error if error is not None else body
            if isinstance(error, dict):
                msg = error.get("message")
                if isinstance(msg, str) and msg:
                    self.message += f" - {msg}"
                code = error.get("code")
                self.code = str(code) if code is not None else None
                kind = error.get("type")
                self.type = str(kind) if kind is not None else None
        super().__init__(self.message)


def env_proxy(scheme: str, host: str) -> str | None:
    """The proxy the environment names for ``scheme`` (``HTTPS_PROXY``...), unless ``NO_PROXY`` covers ``host``."""
    import urllib.request

    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme)
    if not proxy or urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return proxy


class ChatHTTP:
    """``await post(body)`` -> the response bytes of a 2xx; create and use it inside one event loop.

    Requests go through ``http1.HTTP1Pool``, or through aiohttp when the environment names a proxy.
    """

    def __init__(
        self,
        base_url: str | None,
        api_key: str,
        *,
        max_connections: int,
        timeout: float,
        on_resend: Callable[[], None] | None = None,
    ) -> None:
        from urllib.parse import urlsplit

        from tuneworth.providers.http1 import HTTP1Pool, request_head

        self.timeout = timeout
        url = urlsplit((base_url or DEFAULT_BASE_URL).rstrip("/") + "/chat/completions")
        if url.scheme not in ("http", "https") or not url.hostname:
            from tuneworth.errors import ConfigError

            raise ConfigError(
                f"model.base_url {base_url!r} is not an http(s) URL", hint="e.g. http://localhost:8000/v1"
            )
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "tuneworth",
        }
        if org := os.environ.get("OPENAI_ORG_ID"):
            headers["OpenAI-Organization"] = org
        if project := os.environ.get("OPENAI_PROJECT_ID"):
            headers["OpenAI-Project"] = project
        tls = None
        if url.scheme == "https":
            import ssl

            from tuneworth.providers.openai import _ca_bundle

            tls = ssl.create_default_context(cafile=_ca_bundle())
        self._pool: HTTP1Pool | None = None
        self._session: Any = None
        self.proxy = env_proxy(url.scheme, url.hostname)
        if self.proxy is None:
            port = url.port or (443 if url.scheme == "https" else 80)
            self._pool = HTTP1Pool(url.scheme, url.hostname, port, tls, on_resend)
            path = url.path + (f"?{url.query}" if url.query else "")
            self._head = request_head("POST", path, self._pool.host_header, headers)
            return
        import aiohttp

        self._url = url.geturl()
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=0, ssl=tls or True),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )

    async def post(self, body: dict[str, Any]) -> bytes:
        data = orjson.dumps(body)
        if self._pool is not None:
            async with asyncio.timeout(self.timeout):
                status, headers, raw = await self._pool.request(self._head, data)
            if status >= 300:
                raise HTTPStatusError(status, raw, headers)
            return raw
        async with self._session.post(self._url, data=data, proxy=self.proxy) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise HTTPStatusError(resp.status, raw, resp.headers)
            return bytes(raw)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._session is not None:
            await self._session.close()
