"""The OpenAI provider's HTTP: ``POST /chat/completions`` and ``GET /models`` through one aiohttp session.

Why aiohttp directly and not the official SDK: the SDK builds every request through its option
models, httpx2 request objects, URL parsing and header normalisation, ~2.2 ms of CPU per request
here with its own aiohttp transport injected (benchmarks/README.md, "API evaluation") against a
target of 1 ms per item for the whole engine. The requests we send need none of it: the URL,
headers and connection pool are the same for every one, and the body is JSON we built.
aiohttp never re-sends a POST by itself (it repeats only idempotent methods on a stale keep-alive
connection), so every request the server may have seen is an attempt the provider counted.

A non-2xx answer is raised as ``HTTPStatusError`` carrying what the SDK's ``APIStatusError`` would
(status, ``Error code: N - <message>``, the error's ``code`` and ``type``, the headers), so errors
read the same whichever client a user knows. Headers sent: ``Authorization: Bearer <key>``, JSON
content type, and ``OpenAI-Organization`` / ``OpenAI-Project`` from ``OPENAI_ORG_ID`` /
``OPENAI_PROJECT_ID`` when set (as the SDK does). A proxy named by the environment is read once
(``env_proxy``; aiohttp's ``trust_env`` would look it and ``.netrc`` up again on every request).
HTTPS verifies against certifi's bundle when installed (the SDK's default), else the system's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import orjson

from tuneworth.errors import ConfigError, MissingDependencyError

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


def ca_bundle() -> str | None:
    """certifi's CA bundle (what the SDK's HTTP client verifies against by default), if installed."""
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


def require_aiohttp() -> None:
    """A clear error naming the extra when aiohttp is missing (checked when the provider is built)."""
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:
        raise MissingDependencyError("aiohttp", "openai")


class ChatSession:
    """``await post(body)`` -> the bytes of a 2xx answer; create, use and close it inside one event loop."""

    def __init__(self, base_url: str | None, api_key: str, *, max_connections: int, timeout: float) -> None:
        from urllib.parse import urlsplit

        import aiohttp

        base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        url = urlsplit(base + "/chat/completions")
        if url.scheme not in ("http", "https") or not url.hostname:
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
        tls: Any = True
        if url.scheme == "https":
            import ssl

            tls = ssl.create_default_context(cafile=ca_bundle())
        self.proxy = env_proxy(url.scheme, url.hostname)
        self.chat_url = url.geturl()
        self.models_url = base + "/models"
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=0, ssl=tls),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )

    async def post(self, body: dict[str, Any]) -> bytes:
        """One chat completion: the answer's bytes, or ``HTTPStatusError`` for a non-2xx answer."""
        async with self._session.post(self.chat_url, data=orjson.dumps(body), proxy=self.proxy) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise HTTPStatusError(resp.status, raw, resp.headers)
            return raw

    async def list_models(self) -> bytes:
        """``GET /models`` (free): the answer's bytes, or ``HTTPStatusError``."""
        async with self._session.get(self.models_url, proxy=self.proxy) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise HTTPStatusError(resp.status, raw, resp.headers)
            return raw

    async def close(self) -> None:
        await self._session.close()
