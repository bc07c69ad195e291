"""inspect_ai as a client (run with the peers' virtualenv): one task of N samples, generate() + match().

Usage: python inspect_client.py URL N CONCURRENCY -> one JSON line {"seconds", "completed", "errors"}.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time

from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    url, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    samples = [Sample(input=f"Question {i}: what is {i} plus one?", target="ok") for i in range(n)]
    task = Task(dataset=samples, solver=generate(), scorer=match())
    with tempfile.TemporaryDirectory() as d:
        c0 = cpu()
        t0 = time.perf_counter()
        [log] = eval(
            task,
            model="openai/echo",
            model_base_url=url,
            max_connections=c,
            max_tokens=16,
            temperature=0,
            log_dir=d,
            display="none",
        )
        seconds = time.perf_counter() - t0
        cpu_seconds = cpu() - c0
    samples_out = log.samples or []
    errors = sum(1 for s in samples_out if s.error is not None)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "completed": len(samples_out) - errors,
                "cpu_seconds": cpu_seconds,
                "errors": errors,
                "status": log.status,
            }
        )
    )


if __name__ == "__main__":
    main()
