"""API errors in OpenAI's envelope: ``{"error": {"message", "type", "param", "code"}}``.

Route code raises ``APIError`` (or a ``TuneworthError``, mapped here); nothing else reaches the client,
so every failure, including unknown routes, bad JSON and oversized bodies, has the same shape.
"""

from __future__ import annotations

from typing import Any

from tuneworth.errors import (
    AuthError,
    ConfigError,
    ContextLengthError,
    DatasetError,
    TuneworthError,
    UnsupportedSchemaError,
)


class APIError(Exception):
    """An error answered to the client with ``status`` and OpenAI's envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def not_found(kind: str, ident: str, param: str | None = None) -> APIError:
    return APIError(404, f"No such {kind}: '{ident}'", param=param, code=f"{kind}_not_found".replace(" ", "_"))


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def from_tuneworth(err: TuneworthError) -> APIError:
    """Map the library's error tree onto HTTP statuses."""
    if isinstance(err, UnsupportedSchemaError):
        return APIError(400, err.message, param="response_format", code="unsupported_schema")
    if isinstance(err, ContextLengthError):
        return APIError(400, err.message, param="messages", code="context_length_exceeded")
    if isinstance(err, (ConfigError, DatasetError)):
        return APIError(400, str(err))
    if isinstance(err, AuthError):
        return APIError(500, err.message, type="server_error", code="upstream_auth")
    return APIError(500, str(err), type="server_error")
