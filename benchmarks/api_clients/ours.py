"""tuneworth's engine as a client: Evaluator -> Model (completion cache) -> OpenAIProvider, items in a run record.

Usage: python ours.py URL N CONCURRENCY [TIMEOUT] -> one JSON line {"seconds", "completed", "errors", "api"}.
Runs in the project's virtualenv. The clock covers the evaluation call only (imports and setup excluded).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import aiohttp  # noqa: F401  (our HTTP library, imported before the clock, as the peer drivers import theirs)

from tuneworth.config.task import DataConfig, ModelConfig, ScoringConfig, Task
from tuneworth.data.example import Example
from tuneworth.data.split import Split
from tuneworth.evaluate.runner import Evaluator
from tuneworth.providers.cache import CompletionCache
from tuneworth.providers.model import Model
from tuneworth.providers.openai import OpenAIProvider
from tuneworth.record.schema import DataInfo, ModelRef, RunHeader
from tuneworth.record.store import RunRecord
from tuneworth.rungs.base import RunContext, Strategy


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    url, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    config = ModelConfig(name="openai/echo", base_url=url, max_connections=c, timeout=timeout, max_retries=10)
    # Exact match only, as the peers score (no lexical/embedding similarity metrics per item).
    task = Task(
        name="bench", data=DataConfig(path="unused.jsonl"), model=config, scoring=ScoringConfig(record=[])
    )
    items = [
        Example(id=f"bench:{i}", input=f"Question {i}: what is {i} plus one?", output="ok") for i in range(n)
    ]
    ctx = RunContext(task, Split([], [], items), None, lambda s: len(s) // 4)
    provider = OpenAIProvider("echo", config)
    with tempfile.TemporaryDirectory() as d:
        # The completion cache as a climb uses it (a fresh, empty one: every item is a miss, and
        # each answer is committed as it arrives); peers run without theirs.
        model = Model(
            provider, batch_size=provider.preferred_batch_size, cache=CompletionCache(Path(d) / "cache.sqlite")
        )
        header = RunHeader(
            tuneworth_version="bench", task="bench", config={}, seed=0, metric="exact", started_at=time.time(),
            python="", model=ModelRef(spec=config.name, id=provider.model_id),
            data=DataInfo(files={}, sizes={"test": n}, fingerprints={}, test_ids=[], validation_ids=[]),
        )
        record = RunRecord(Path(d) / "run", header)
        ev = Evaluator(ctx, model, sink=record.append)
        strategy = Strategy("L1", {"variant": "base"}, "Answer the question.", 16)
        profile = os.environ.get("BENCH_PROFILE")  # a path: cProfile of the clocked part only
        if profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        c0 = cpu()
        t0 = time.perf_counter()
        [results] = ev.run([strategy], items, "test")
        seconds = time.perf_counter() - t0
        cpu_seconds = cpu() - c0
        if profile:
            prof.disable()
            prof.dump_stats(profile)
        record.close()
        assert model.cache is not None
        cached = model.cache.stats()["entries"]
        model.cache.close()
    errors = sum(r.error is not None for r in results)
    out = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "completed": len(results) - errors,
        "errors": errors,
        "cache_entries": cached,
        "api": provider.api_stats(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
