"""``Model``: the single wrapper around a provider that owns cross-cutting concerns.

Providers answer batches; ``Model`` chunks work into batches, reports progress, and turns a
failed batch into per-item error completions (so errors are counted apart, never scored as wrong
answers), while errors that make the run pointless (authentication) propagate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tuneworth.errors import AuthError, ProviderError
from tuneworth.models.base import ChatRequest, Completion, Provider


class Model:
    def __init__(self, provider: Provider, *, batch_size: int = 16) -> None:
        self.provider = provider
        self.batch_size = max(1, batch_size)

    @property
    def model_id(self) -> str:
        return self.provider.model_id

    def count_tokens(self, text: str) -> int:
        return self.provider.count_tokens(text)

    def generate(
        self,
        requests: Sequence[ChatRequest],
        *,
        on_done: Callable[[int, Completion], None] | None = None,
    ) -> list[Completion]:
        """Answer ``requests`` in order; ``on_done(index, completion)`` fires as each batch finishes.

        Requests are grouped by their shared conversation prefix (everything before the last
        message: the system prompt and fixed demonstrations), so a batch shares one prefix the
        provider can reuse, and by length within a group, so little compute goes to padding.
        Results come back in the caller's order.
        """

        def key(i: int) -> tuple[str, int, int]:
            msgs = requests[i].messages
            prefix = "\x1e".join(m["content"] for m in msgs[:-1])
            return (prefix, requests[i].max_tokens, len(msgs[-1]["content"]) if msgs else 0)

        order = sorted(range(len(requests)), key=key)
        results: list[Completion | None] = [None] * len(requests)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = [requests[i] for i in idx]
            t0 = time.perf_counter()
            try:
                outs = self.provider.generate(batch)
                if len(outs) != len(batch):
                    raise ProviderError(
                        f"provider returned {len(outs)} completions for {len(batch)} requests"
                    )
            except AuthError:
                raise
            except ProviderError as e:
                elapsed = (time.perf_counter() - t0) * 1000
                outs = [
                    Completion(error=f"{type(e).__name__}: {e.message}", latency_ms=elapsed) for _ in batch
                ]
            for i, out in zip(idx, outs, strict=True):
                if not out.latency_ms:
                    out.latency_ms = (time.perf_counter() - t0) * 1000
                results[i] = out
                if on_done is not None:
                    on_done(i, out)
        return [r for r in results if r is not None]
