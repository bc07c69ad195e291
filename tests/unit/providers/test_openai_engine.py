"""The OpenAI provider's engine parts: the adaptive limit's wake-ups under cuts and cancellations, and
answers handed over after the next requests are sent (a real local fault server)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tuneworth.config.task import ModelConfig
from tuneworth.providers.base import ChatRequest, Completion
from tuneworth.providers.openai import OpenAIProvider
from tuneworth.providers.openai_http import ChatSession
from tuneworth.providers.retry import AdaptiveLimit
from tuneworth.testing.fault_server import FaultConfig, RunningServer, serve_in_thread


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(FaultConfig()) as s:
        yield s


def _reqs(n: int) -> list[ChatRequest]:
    return [ChatRequest(messages=({"role": "user", "content": f"q{i}"},), max_tokens=4) for i in range(n)]


def test_adaptive_limit_holds_under_cuts_and_cancellations() -> None:
    async def run() -> tuple[int, int]:
        lim = AdaptiveLimit(8, cooldown=0)
        peak = 0
        done = 0

        async def one(i: int) -> None:
            nonlocal peak, done
            await lim.acquire()
            try:
                peak = max(peak, lim.in_flight)
                assert lim.in_flight <= lim.limit or lim.cuts  # a cut may land while slots are held
                await asyncio.sleep(random.random() / 500)
                if i % 17 == 0:
                    lim.rate_limited()
                else:
                    lim.success()
            finally:
                lim.release_nowait()
            done += 1

        tasks = [asyncio.ensure_future(one(i)) for i in range(300)]
        await asyncio.sleep(0.005)
        for t in tasks[150:170]:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert lim.in_flight == 0 and lim._woken == 0
        return peak, done

    random.seed(0)
    peak, done = asyncio.run(run())
    assert peak <= 8 and 280 <= done <= 300


def test_answers_reach_on_done_after_the_next_requests_and_errors_stop_the_run(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = 0
    post = ChatSession.post

    async def counted(self: ChatSession, body: dict[str, Any]) -> bytes:
        nonlocal sent
        sent += 1
        return await post(self, body)

    monkeypatch.setattr(ChatSession, "post", counted)
    monkeypatch.setenv("TW_TEST_KEY", "sk-test")
    server.configure(latency_ms=20)
    p = OpenAIProvider(
        "m", ModelConfig(name="openai/m", base_url=server.url, api_key_env="TW_TEST_KEY", max_connections=2)
    )
    seen: list[tuple[int, int]] = []
    cached: list[tuple[int, int]] = []

    def on_done(i: int, c: Completion) -> None:
        assert c.error is None
        seen.append((i, sent))

    p.generate_each(_reqs(6), on_done, on_answer=lambda i, c: cached.append((i, sent)))
    assert sorted(i for i, _ in seen) == list(range(6)) == sorted(i for i, _ in cached)
    # The first answer is kept (cached) before its slot is reused, and handed over once the request
    # its slot let go has been sent.
    assert cached[0][1] == 2 and seen[0][1] >= 3

    def failing(i: int, c: Completion) -> None:
        raise RuntimeError("disk full")

    server.configure(latency_ms=20)
    with pytest.raises(RuntimeError, match="disk full"):
        p.generate_each(_reqs(20), failing)
    assert sent < 6 + 20  # the run stopped: the rest was never sent
    p.close()
