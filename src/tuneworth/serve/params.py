"""Reading request bodies and query strings with OpenAI-style errors; unknown fields are ignored."""

from __future__ import annotations

import json
from typing import Any

from tuneworth.serve.errors import APIError, bad_request


async def json_body(request: Any) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise bad_request(
            f"We could not parse the JSON body of your request ({e}). The OpenAI API expects a JSON payload."
        ) from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False,
          default: Any = None) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
        return default
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise bad_request(f"Invalid type for '{name}': expected {_kind_name(kind)}, got a boolean.", param=name,
                          code="invalid_type")
    if not isinstance(value, kind):
        raise bad_request(
            f"Invalid type for '{name}': expected {_kind_name(kind)}, got {type(value).__name__}.",
            param=name, code="invalid_type",
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "an array",
             dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def query_int(request: Any, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid '{name}': expected an integer, got {raw!r}.", param=name) from None
    if not lo <= value <= hi:
        raise bad_request(f"Invalid '{name}': must be between {lo} and {hi}, got {value}.", param=name)
    return value


def number_in(body: dict[str, Any], name: str, lo: float, hi: float, default: float | None) -> float | None:
    value = field(body, name, (int, float), default=default)
    if value is not None and not lo <= value <= hi:
        raise bad_request(f"Invalid '{name}': must be between {lo} and {hi}, got {value}.", param=name,
                          code="invalid_value")
    return value


__all__ = ["APIError", "field", "json_body", "number_in", "query_int"]
