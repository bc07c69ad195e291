"""Dynamic batching: concurrent chat requests gathered into one ``generate`` call.

Handlers ``await submit(model, request)``; one generation thread takes the first waiting request and
gathers what else arrives (up to ``max_batch``): it keeps waiting while requests keep coming, each
within ``max_wait_s`` of the one before, for at most ``10 * max_wait_s`` in all, so a burst of
concurrent clients lands in one batch while a lone request waits only ``max_wait_s``. It groups them
by model and sampling settings (greedy rows batch with any greedy rows; sampled rows share
temperature, top_p and seed) and answers each group with one batched ``generate`` call that decodes
all its rows together until the last one ends. While a batch runs, new requests queue up and form
the next batch, so under load batches fill without any waiting at all.

A request submitted with ``on_text`` (a streamed answer) is handed its text so far after every
decoding step, on the generation thread; the caller passes it on to its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from tuneworth.providers.base import ChatRequest, Completion


@dataclass
class _Pending:
    model: str
    request: ChatRequest
    future: asyncio.Future[Completion]
    loop: asyncio.AbstractEventLoop
    on_text: Callable[[str], None] | None = None


def group_key(model: str, r: ChatRequest) -> Hashable:
    """Requests that may share one ``generate`` call (the local provider samples batch-wide)."""
    if r.temperature <= 0:
        return (model, "greedy")
    return (model, r.temperature, r.top_p, r.seed)


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

    async def submit(
        self, model: str, request: ChatRequest, on_text: Callable[[str], None] | None = None
    ) -> Completion:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Completion] = loop.create_future()
        self._queue.put(_Pending(model, request, fut, loop, on_text))
        return await fut

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _gather(self, first: _Pending) -> list[_Pending]:
        items = [first]
        now = time.monotonic()
        cap = now + 10 * self.max_wait_s
        deadline = min(cap, now + self.max_wait_s)
        while len(items) < self.max_batch:
            timeout = deadline - time.monotonic()
            try:
                item = self._queue.get_nowait() if timeout <= 0 else self._queue.get(timeout=timeout)
            except queue.Empty:
                break
            deadline = min(cap, time.monotonic() + self.max_wait_s)  # more are coming: wait for them too
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
        kwargs: dict[str, Any] = {}
        listeners = [p.on_text for p in live]
        if any(listeners):
            def on_text(texts: list[str]) -> None:
                for listener, text in zip(listeners, texts, strict=True):
                    if listener is not None:
                        with contextlib.suppress(Exception):  # a gone client must not fail its batch-mates
                            listener(text)

            kwargs["on_text"] = on_text
        t0 = time.perf_counter()
        completions = list(provider.generate([p.request for p in live], **kwargs))
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
