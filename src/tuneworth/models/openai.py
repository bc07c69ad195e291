"""``openai/<model>`` through the official ``openai`` SDK, for OpenAI or any compatible server.

The base URL comes from the task (``model.base_url``) or ``OPENAI_BASE_URL``; the key from the
environment variable named by ``model.api_key_env``. A batch fans out over a bounded thread pool
(``model.max_connections``). Per-request failures become error completions (counted apart in the
record); authentication failures stop the run. Tests inject an HTTP transport via ``http_client``.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tuneworth.errors import (
    AuthError,
    ConfigError,
    ContextLengthError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
)
from tuneworth.models.base import ChatRequest, Completion

if TYPE_CHECKING:
    from tuneworth.task import ModelConfig


class OpenAIProvider:
    def __init__(self, name: str, config: ModelConfig, *, http_client: Any = None) -> None:
        if importlib.util.find_spec("openai") is None:
            raise MissingDependencyError("openai", "openai")
        import openai

        base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
        key = os.environ.get(config.api_key_env)
        if not key:
            if base_url is None:
                raise ConfigError(
                    f"openai/{name} needs an API key in ${config.api_key_env}",
                    hint=f"export {config.api_key_env}=sk-... or set model.base_url for a local server",
                )
            key = "not-needed"  # local OpenAI-compatible servers usually ignore the key
        self.name = name
        self.model_id = f"openai/{name}" + (f"@{base_url}" if base_url else "")
        self.max_connections = config.max_connections
        # Constrained decodings (decoding/api.py); formats the endpoint refused are not asked for again.
        self.decodings = frozenset({"structured", "json_object", "choice"})
        self.refused: dict[str, str] = {}
        self.preferred_batch_size = config.max_connections * 4
        self.client = openai.OpenAI(
            api_key=key, base_url=base_url, timeout=config.timeout, max_retries=2, http_client=http_client
        )

    def count_tokens(self, text: str) -> int:
        # No offline tokenizer for API models: ~4 characters per token, clearly an estimate.
        return max(1, len(text) // 4)

    def _one(self, r: ChatRequest) -> Completion:
        """One request; a refused response format or logprobs request steps down (decoding/api.py)."""
        from tuneworth.decoding.api import DECODING_OF, FALLBACK, pick_label

        fmt = r.response_format
        kind = fmt.get("type") if fmt else None
        while kind in self.refused:  # an earlier request learnt that this endpoint refuses it
            fmt = FALLBACK.get(kind)
            kind = fmt.get("type") if fmt else None
        want_logprobs = bool(r.choices) and "logprobs" not in self.refused
        while True:
            c, refusal = self._call(r, fmt, want_logprobs)
            if refusal is None:
                break
            if refusal == "logprobs":
                self.refused["logprobs"] = c.error or ""
                want_logprobs = False
            else:
                self.refused[str(kind)] = c.error or ""
                fmt = FALLBACK.get(str(kind))
                kind = fmt.get("type") if fmt else None
        if c.error is not None:
            return c
        if r.choices:
            label, scores = pick_label(c.text, c.meta.pop("logprobs", None), r.choices)
            if label is not None and (scores or want_logprobs):
                c.meta.update(decoding="choice", label_logprobs=scores)
                c.text = label
            else:
                c.meta["decoding"] = "free"  # no logprobs from this endpoint: the generated text stands
            return c
        if r.response_format:
            c.meta["decoding"] = DECODING_OF.get(kind, "free")
            if kind != r.response_format.get("type"):
                c.meta["fallback"] = "endpoint refused " + ", ".join(
                    k for k in ("json_schema", "json_object") if k in self.refused
                )
        return c

    def _call(
        self, r: ChatRequest, fmt: dict[str, Any] | None, logprobs: bool
    ) -> tuple[Completion, str | None]:
        """(completion, None), or (error completion, "format" | "logprobs") when that was refused."""
        import openai

        from tuneworth.decoding.api import TOP_LOGPROBS, refuses_format, refuses_logprobs

        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": list(r.messages),
            "max_tokens": r.max_tokens,
            "temperature": r.temperature,
        }
        if r.stop:
            kwargs["stop"] = list(r.stop)
        if fmt:
            kwargs["response_format"] = fmt
        if logprobs:
            kwargs.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        if r.seed is not None:
            kwargs["seed"] = r.seed
        t0 = time.perf_counter()
        try:
            resp = self.client.chat.completions.create(**kwargs)
        except openai.AuthenticationError as e:
            raise AuthError(
                f"{self.model_id}: authentication failed ({e.message})", hint="check the API key"
            ) from None
        except openai.RateLimitError as e:
            err: ProviderError = RateLimitError(f"rate limited: {e.message}")
        except openai.BadRequestError as e:
            code = getattr(e, "code", None)
            cls = ContextLengthError if code == "context_length_exceeded" else ProviderError
            err = cls(f"bad request: {e.message}")
            if code != "context_length_exceeded":
                if logprobs and refuses_logprobs(e.status_code, e.message):
                    return Completion(error=e.message), "logprobs"
                if fmt and refuses_format(e.status_code, e.message):
                    return Completion(error=e.message), "format"
        except openai.APIStatusError as e:
            if fmt and refuses_format(e.status_code, e.message):
                return Completion(error=e.message), "format"
            err = ProviderError(f"HTTP {e.status_code}: {e.message}", retryable=e.status_code >= 500)
        except openai.APIError as e:
            err = ProviderError(f"{type(e).__name__}: {e.message}", retryable=True)
        else:
            choice = resp.choices[0]
            usage = resp.usage
            return Completion(
                text=(choice.message.content or "").strip(),
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                latency_ms=(time.perf_counter() - t0) * 1000,
                finish_reason=choice.finish_reason or "stop",
                meta={"logprobs": choice.logprobs} if logprobs else {},
            ), None
        return Completion(
            error=f"{type(err).__name__}: {err.message}", latency_ms=(time.perf_counter() - t0) * 1000
        ), None

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        if len(requests) == 1:
            return [self._one(requests[0])]
        with ThreadPoolExecutor(max_workers=min(self.max_connections, len(requests))) as pool:
            return list(pool.map(self._one, requests))


def create(name: str, config: ModelConfig) -> OpenAIProvider:
    return OpenAIProvider(name, config)
