"""Dynamic batching: concurrent chat requests gathered into one ``generate`` call.

Handlers ``await submit(model, request)``; one generation thread takes the first waiting request,
gathers whatever else arrives within ``max_wait_s`` (up to ``max_batch``), groups them by model and
sampling settings (greedy rows batch with any greedy rows; sampled rows share temperature and seed),
and answers each group with one batched forward pass. While a batch runs, new requests queue up and
form the next batch, so under load batches fill without any waiting at all.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from tuneworth.models.base import ChatRequest, Completion


@dataclass
class _Pending:
    model: str
    request: ChatRequest
    future: asyncio.Future[Completion]
    loop: asyncio.AbstractEventLoop


def group_key(model: str, r: ChatRequest) -> Hashable:
    """Requests that may share one ``generate`` call (the local provider samples batch-wide)."""
    if r.temperature <= 0:
        return (model, "greedy")
    return (model, r.temperature, r.seed)


class Batcher:
    def __init__(
        self, resolve: Callable[[str], Any], *, max_batch: int = 32, max_wait_s: float = 0.01
    ) -> None:
        self.resolve = resolve
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.batch_sizes: Counter[int] = Counter()
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tuneworth-batcher", daemon=True)
        self._thread.start()

    async def submit(self, model: str, request: ChatRequest) -> Completion:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Completion] = loop.create_future()
        self._queue.put(_Pending(model, request, fut, loop))
        return await fut

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _gather(self, first: _Pending) -> list[_Pending]:
        items = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(items) < self.max_batch:
            timeout = deadline - time.monotonic()
            try:
                item = self._queue.get_nowait() if timeout <= 0 else self._queue.get(timeout=timeout)
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            items.append(item)
        return items

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            groups: dict[Hashable, list[_Pending]] = {}
            for p in self._gather(first):
                groups.setdefault(group_key(p.model, p.request), []).append(p)
            for group in groups.values():
                self._answer(group)

    def _answer(self, group: list[_Pending]) -> None:
        live = [p for p in group if not p.future.cancelled()]
        if not live:
            return
        try:
            results: list[Completion] | BaseException = self._generate(live)
        except Exception as e:
            if len(live) > 1:  # one bad request must not fail its batch-mates: answer them one by one
                for p in live:
                    self._answer([p])
                return
            results = e
        for i, p in enumerate(live):
            value = results if isinstance(results, BaseException) else results[i]
            p.loop.call_soon_threadsafe(_settle, p.future, value)

    def _generate(self, live: list[_Pending]) -> list[Completion]:
        provider = self.resolve(live[0].model)
        t0 = time.perf_counter()
        completions = list(provider.generate([p.request for p in live]))
        ms = (time.perf_counter() - t0) * 1000
        self.batch_sizes[len(live)] += 1
        for c in completions:
            c.latency_ms = c.latency_ms or ms
            c.meta["batch_size"] = len(live)
        return completions


def _settle(fut: asyncio.Future[Completion], value: Completion | BaseException) -> None:
    if fut.done():
        return
    if isinstance(value, BaseException):
        fut.set_exception(value)
    else:
        fut.set_result(value)
