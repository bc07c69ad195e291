"""``Model``: the single wrapper around a provider that owns cross-cutting concerns.

Providers answer batches; ``Model`` answers what it can from the completion cache, chunks the
rest into batches, reports progress, and turns a failed batch into per-item error completions (so
errors are counted apart, never scored as wrong answers), while errors that make the run
pointless (authentication) propagate. It reads only what ``Provider`` declares (``streams_answers``,
``cache_tag``...), never probes the provider for attributes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tuneworth.errors import AuthError, ProviderError, QuotaError
from tuneworth.providers.base import ChatRequest, Completion, Provider
from tuneworth.providers.cache import CompletionCache, cacheable, request_key


class Model:
    def __init__(
        self, provider: Provider, *, batch_size: int = 16, cache: CompletionCache | None = None
    ) -> None:
        self.provider = provider
        self.batch_size = max(1, batch_size)
        self.cache = cache
        self.cache_hits = 0

    @property
    def identity(self) -> str:
        """What makes two models answer differently: provider id plus any weights tag."""
        tag = self.provider.cache_tag
        return self.provider.model_id + (f"#{tag}" if tag else "")

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

        results: list[Completion | None] = [None] * len(requests)
        keys: list[str | None] = [None] * len(requests)
        if self.cache is not None:
            keys = [request_key(self.identity, r) if cacheable(r) else None for r in requests]
            hits = self.cache.get_many([k for k in keys if k is not None])
            for i, k in enumerate(keys):
                if k is not None and k in hits:
                    results[i] = hits[k]
                    self.cache_hits += 1
                    if on_done is not None:
                        on_done(i, hits[k])
        todo = [i for i in range(len(requests)) if results[i] is None]
        order = sorted(todo, key=key)
        if self.provider.streams_answers and order:
            self._stream(requests, order, keys, results, on_done)
            order = []
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
            except (AuthError, QuotaError):
                raise
            except ProviderError as e:
                elapsed = (time.perf_counter() - t0) * 1000
                outs = [
                    Completion(error=f"{type(e).__name__}: {e.message}", latency_ms=elapsed) for _ in batch
                ]
            fresh: list[tuple[str, Completion]] = []
            for i, out in zip(idx, outs, strict=True):
                if not out.latency_ms:
                    out.latency_ms = (time.perf_counter() - t0) * 1000
                results[i] = out
                if (k := keys[i]) is not None:
                    fresh.append((k, out))
            if self.cache is not None:
                self.cache.put_many(self.provider.model_id, fresh)
            for i, out in zip(idx, outs, strict=True):
                if on_done is not None:
                    on_done(i, out)
        return [r for r in results if r is not None]

    def _stream(
        self,
        requests: Sequence[ChatRequest],
        order: list[int],
        keys: list[str | None],
        results: list[Completion | None],
        on_done: Callable[[int, Completion], None] | None,
    ) -> None:
        """Providers that answer one request at a time (API pools): no batch barrier, and each answer is
        cached and handed on as it arrives, so an interruption loses at most what is in flight.

        The provider hands answers over in groups (``on_batch``; the OpenAI provider: the answers of
        one event-loop turn, after the requests their slots let go were sent) and calls ``on_answer``
        for each as it arrives, before its slot is reused: the cache commit."""
        t0 = time.perf_counter()

        def cache(j: int, out: Completion) -> None:
            if self.cache is not None and (k := keys[order[j]]) is not None:
                self.cache.put_many(self.provider.model_id, [(k, out)])

        def hand_on(j: int, out: Completion) -> None:
            i = order[j]
            results[i] = out
            if on_done is not None:
                on_done(i, out)

        def batch(answers: Sequence[tuple[int, Completion]]) -> None:
            for j, out in answers:
                hand_on(j, out)

        try:
            self.provider.generate_each(
                [requests[i] for i in order], hand_on, on_batch=batch, on_answer=cache
            )
        except (AuthError, QuotaError):
            raise
        except ProviderError as e:
            elapsed = (time.perf_counter() - t0) * 1000
            for i in order:
                if results[i] is None:
                    out = Completion(error=f"{type(e).__name__}: {e.message}", latency_ms=elapsed)
                    results[i] = out
                    if on_done is not None:
                        on_done(i, out)
