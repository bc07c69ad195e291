"""The official ``openai`` SDK as a client, doing nothing else: an asyncio loop of ``chat.completions.create``
on ``AsyncOpenAI`` with its aiohttp transport injected (``DefaultAioHttpClient``), a semaphore of C.

Usage: python openai_sdk.py URL N CONCURRENCY -> one JSON line {"seconds", "cpu_seconds", "completed", "errors"}.
Runs in the project's virtualenv. No cache, no record, no retries (``max_retries=0``), exact-match
scoring only: the least an engine built on the SDK's request path can cost per item, which is why
tuneworth's provider posts through aiohttp directly (benchmarks/README.md, "API evaluation").
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

import openai


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run(url: str, n: int, c: int) -> tuple[int, int]:
    limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_connections=c, max_keepalive_connections=c)
    client = openai.AsyncOpenAI(
        api_key="sk-bench", base_url=url, max_retries=0, http_client=openai.DefaultAioHttpClient(limits=limits)
    )
    gate = asyncio.Semaphore(c)

    async def one(i: int) -> bool:
        async with gate:
            r = await client.chat.completions.create(
                model="echo",
                messages=[
                    {"role": "system", "content": "Answer the question."},
                    {"role": "user", "content": f"Question {i}: what is {i} plus one?"},
                ],
                max_tokens=16,
                temperature=0,
            )
            return (r.choices[0].message.content or "").strip() == "ok"

    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    await client.close()
    errors = sum(isinstance(r, BaseException) for r in results)
    return n - errors, errors


def main() -> None:
    url, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    c0 = cpu()
    t0 = time.perf_counter()
    completed, errors = asyncio.run(run(url, n, c))
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu() - c0, "completed": completed, "errors": errors}))


if __name__ == "__main__":
    main()
