"""Retries for API calls: which failures to retry, how long to wait, and how many requests to keep in flight.

Three small parts, provider-neutral (the OpenAI provider maps SDK exceptions onto them):

* ``parse_retry_after``: the server's own wait, from ``retry-after-ms`` or ``Retry-After`` (seconds,
  decimals allowed, or an HTTP date). A server's wait always beats our backoff.
* ``Backoff``: exponential with jitter (``base * 2**attempt``, capped, scaled by a random factor in
  [0.5, 1]) so that clients that failed together do not retry together.
* ``AdaptiveLimit``: an additive-increase / multiplicative-decrease bound on concurrent requests,
  between 1 and ``max_connections``. A rate limit (429) cuts it by a quarter, at most once per
  cooldown (the requests already in flight when the first 429 arrived would otherwise cut it again
  and again for one overload); every ``limit`` successes since the last change raise it by one.
  A request waiting to retry gives its slot back.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({408, 409, 429})


def retryable_status(status: int) -> bool:
    """408 (timeout), 409 (conflict), 429 (rate limit) and every 5xx are worth another try."""
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, or None. ``headers`` must be case-insensitive (httpx's are)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return value if math.isfinite(value) and value >= 0 else None


@dataclass
class Backoff:
    """Exponential backoff with jitter: attempt n (from 1) waits ``min(cap, base * 2**(n-1)) * U(0.5, 1)``."""

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            # Honour the server, plus a little jitter so a crowd told "1 s" does not return in lockstep.
            return retry_after * (1 + 0.1 * self.rng.random())
        return min(self.cap, self.base * 2 ** max(0, attempt - 1)) * (0.5 + 0.5 * self.rng.random())


class AdaptiveLimit:
    """AIMD bound on requests in flight. Create and use it inside one event loop."""

    def __init__(self, maximum: int, *, cooldown: float = 1.0) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.lowest = self.maximum
        self.cooldown = cooldown
        self.in_flight = 0
        self.cuts = 0
        self._successes = 0
        self._last_cut = -math.inf
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._woken = 0
        """Waiters woken for a free slot that have not run yet (the slot is kept for them)."""

    async def acquire(self) -> None:
        # Plain futures in a FIFO, not an asyncio.Condition: no lock to re-take on every wake-up.
        if not self._waiters and self.in_flight + self._woken < self.limit:
            self.in_flight += 1
            return
        while True:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            self._wake()  # a free slot and only cancelled waiters ahead: this one goes at once
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():  # woken, then cancelled: hand the slot on
                    self._woken -= 1
                    self._wake()
                raise
            self._woken -= 1
            if self.in_flight < self.limit:
                self.in_flight += 1
                return
            # the limit was cut while this one was being woken: wait again

    async def release(self) -> None:
        self.release_nowait()

    def release_nowait(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        """Wake waiters, oldest first, while slots are free."""
        while self._waiters and self.in_flight + self._woken < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                self._woken += 1

    def success(self) -> None:
        self._successes += 1
        if self.limit < self.maximum and self._successes >= self.limit:
            self.limit += 1
            self._successes = 0
            self._wake()

    def rate_limited(self, cooldown: float | None = None) -> None:
        now = time.monotonic()
        if now - self._last_cut < max(self.cooldown, cooldown or 0.0):
            return
        self._last_cut = now
        self.limit = max(1, math.floor(self.limit * 0.75))
        self.lowest = min(self.lowest, self.limit)
        self._successes = 0
        self.cuts += 1
