"""Answers of an API pool on their way to the caller: kept (cached) at once, handed on two event-loop turns later.

When a wave of answers arrives together, each answer frees a slot, and the request waiting for that
slot is sent on the next turn. Handing the answers on (scoring, the record line) on the turn after
that keeps that work out of the time between an answer and the next request. The cache commit
(``keep``) is not deferred: it runs before the slot is let go, so a kill loses only what is in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from tuneworth.providers.base import Completion


class Handoff:
    """Answers on their way to ``on_batch``, handed over in groups two event-loop turns after they arrive.

    Every answer is handed over, in arrival order, within the same run (``flush`` at its end). An
    exception from ``on_batch`` cancels the run's tasks and is raised by the run.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_batch: Callable[[Sequence[tuple[int, Completion]]], None],
        on_answer: Callable[[int, Completion], None] | None = None,
    ) -> None:
        self.loop = loop
        self.on_batch = on_batch
        self.on_answer = on_answer
        self.pending: list[tuple[int, Completion]] = []
        self.scheduled = False
        self.error: BaseException | None = None
        self.tasks: Sequence[asyncio.Future[None]] = ()

    def keep(self, i: int, completion: Completion) -> None:
        """An answer just arrived, its slot not yet let go: ``on_answer`` (the cache commit) now."""
        if self.on_answer is not None:
            self.on_answer(i, completion)

    def put(self, i: int, completion: Completion) -> None:
        self.pending.append((i, completion))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.loop.call_soon, self.flush)

    def flush(self) -> None:
        self.scheduled = False
        batch, self.pending = self.pending, []
        if self.error is not None:
            return
        if not batch:
            return
        try:
            self.on_batch(batch)
        except BaseException as e:
            self.error = e
            for t in self.tasks:
                t.cancel()
