"""``openai/<embedding-model>`` through the official SDK, for OpenAI or any compatible server.

Base URL from the argument or ``OPENAI_BASE_URL``; key from ``$OPENAI_API_KEY`` (or the named
variable; a local server without a key gets a placeholder). Batches of up to 256 texts per request;
rows come back L2-normalised like the local model's. Tests inject an HTTP transport via ``http_client``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING, Any

from tuneworth.errors import AuthError, ConfigError, MissingDependencyError, ProviderError

if TYPE_CHECKING:
    import numpy as np


class OpenAIEmbedder:
    max_tokens = 8191  # OpenAI's embedding models; compatible servers may allow less

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        http_client: Any = None,
    ) -> None:
        if importlib.util.find_spec("openai") is None:
            raise MissingDependencyError("openai", "openai")
        import openai

        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        key = os.environ.get(api_key_env)
        if not key:
            if base_url is None:
                raise ConfigError(
                    f"openai/{model} needs an API key in ${api_key_env}",
                    hint=f"export {api_key_env}=sk-... or give a base URL for a local server",
                )
            key = "not-needed"
        self.model = model
        self.name = f"openai/{model}"
        self.identity = self.name + (f"@{base_url}" if base_url else "")
        self._dim: int | None = None
        self.client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=2, http_client=http_client)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: list[str], *, batch_size: int = 256) -> np.ndarray:
        import numpy as np
        import openai

        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        rows: list[list[float]] = []
        for i in range(0, len(texts), batch_size):
            part = [t if t.strip() else " " for t in texts[i : i + batch_size]]  # the API rejects ""
            try:
                resp = self.client.embeddings.create(model=self.model, input=part)
            except openai.AuthenticationError as e:
                raise AuthError(f"{self.identity}: authentication failed ({e.message})", hint="check the API key") from None
            except openai.APIStatusError as e:
                raise ProviderError(
                    f"{self.identity}: embeddings failed (HTTP {e.status_code}: {e.message})",
                    retryable=e.status_code >= 500,
                ) from None
            except openai.APIError as e:
                raise ProviderError(f"{self.identity}: embeddings failed ({e.message})", retryable=True) from None
            data = sorted(resp.data, key=lambda d: d.index)
            if len(data) != len(part):
                raise ProviderError(f"{self.identity}: asked for {len(part)} embeddings, got {len(data)}")
            rows.extend(list(d.embedding) for d in data)
        m = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        m /= np.where(norms == 0, 1.0, norms)
        self._dim = int(m.shape[1])
        return m
