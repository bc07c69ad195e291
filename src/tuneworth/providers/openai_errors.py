"""How a failed API attempt maps onto tuneworth's error tree: retry it, record it on the item, or stop the run.

One function, ``classify``, reads every exception an attempt can end with (aiohttp's connection
errors, timeouts, ``HTTPStatusError`` answers, a 200 whose body is not a chat completion):

    retried               408, 409, 429 (waiting what ``Retry-After``/``retry-after-ms`` ask), 5xx,
                          timeouts, connection errors (refused, reset, dropped after the request was
                          read), malformed bodies
    recorded on the item  context length and other 4xx (not retried)
    stopping the run      401/403 (``AuthError``) and ``insufficient_quota`` (``QuotaError``)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuneworth.errors import AuthError, ContextLengthError, ProviderError, QuotaError, RateLimitError
from tuneworth.providers.openai_http import HTTPStatusError
from tuneworth.providers.retry import parse_retry_after, retryable_status


@dataclass
class Failure:
    """One failed attempt: the error to record, whether to try again, and how long the server asked us to wait."""

    error: ProviderError
    kind: str
    retry_after: float | None = None

    @property
    def fatal(self) -> bool:
        return isinstance(self.error, AuthError | QuotaError)


def status_fields(exc: BaseException) -> tuple[int, str, str, str, Any] | None:
    """(status, message, code, type, headers) of an HTTP error answer, else None."""
    if isinstance(exc, HTTPStatusError):
        return exc.status_code, exc.message, exc.code or "", exc.type or "", exc.headers
    return None


def _is_connection_error(exc: BaseException) -> bool:
    """aiohttp's client errors (refused, reset, a body cut short, a server that hung up) and socket errors."""
    if isinstance(exc, OSError):
        return True
    import aiohttp

    return isinstance(exc, aiohttp.ClientError)


def classify(exc: BaseException, model_id: str, timeout: float) -> Failure:
    """Map an attempt's exception onto our error tree (re-raises what is not an API failure)."""
    if isinstance(exc, TimeoutError):
        return Failure(ProviderError(f"no answer within {timeout:g} s", retryable=True), "timeout")
    fields = status_fields(exc)
    if fields is None and _is_connection_error(exc):
        detail = str(exc) or type(exc).__name__
        return Failure(ProviderError(f"connection failed: {detail}", retryable=True), "connection")
    if fields is not None:
        return _status_failure(*fields, model_id=model_id)
    if isinstance(exc, ValueError | LookupError | TypeError | AttributeError):
        # A 200 whose body is not a chat completion (truncated or garbled JSON).
        return Failure(
            ProviderError(f"malformed response ({type(exc).__name__}: {exc})", retryable=True), "malformed"
        )
    raise exc


def _status_failure(status: int, message: str, code: str, kind: str, headers: Any, *, model_id: str) -> Failure:
    if status in (401, 403):
        return Failure(
            AuthError(
                f"{model_id}: the server refused our credentials (HTTP {status}: {message})",
                hint="check the API key (model.api_key_env) and that it may use this model",
            ),
            "auth",
        )
    if "insufficient_quota" in (code, kind):
        return Failure(
            QuotaError(
                f"{model_id}: the account has no quota left (insufficient_quota: {message})",
                hint="add credit or raise the limit in the provider's billing settings, then re-run the same command to resume",
            ),
            "quota",
        )
    retry_after = parse_retry_after(headers)
    if status == 429:
        return Failure(RateLimitError(f"rate limited: {message}", retry_after=retry_after), "rate_limit", retry_after)
    if retryable_status(status):
        return Failure(ProviderError(f"HTTP {status}: {message}", retryable=True), "server_error", retry_after)
    if code == "context_length_exceeded" or "context length" in message.lower():
        return Failure(ContextLengthError(f"prompt too long for the model: {message}"), "context_length")
    return Failure(ProviderError(f"HTTP {status}: {message}"), "bad_request")
