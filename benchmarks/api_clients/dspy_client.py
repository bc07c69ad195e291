"""DSPy Evaluate as a client (run with the peers' virtualenv): dspy.Predict over N examples, num_threads=C.

Usage: python dspy_client.py URL N CONCURRENCY -> one JSON line {"seconds", "completed", "errors"}.
The server must answer in DSPy's ChatAdapter format (bench_api.py sets that answer for every client).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import dspy


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    url, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    lm = dspy.LM("openai/echo", api_base=url, api_key="sk-bench", cache=False, max_tokens=16, temperature=0)
    dspy.configure(lm=lm)
    program = dspy.Predict("question -> answer")
    devset = [
        dspy.Example(question=f"Question {i}: what is {i} plus one?", answer="ok").with_inputs("question")
        for i in range(n)
    ]
    answered = []

    def metric(example: dspy.Example, pred: dspy.Prediction, trace: object = None) -> bool:
        answered.append(pred)
        return pred.answer == example.answer

    evaluate = dspy.Evaluate(devset=devset, metric=metric, num_threads=c, display_progress=False)
    c0 = cpu()
    t0 = time.perf_counter()
    evaluate(program)
    seconds = time.perf_counter() - t0
    cpu_seconds = cpu() - c0
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "completed": len(answered),
                "errors": n - len(answered),
            }
        )
    )


if __name__ == "__main__":
    main()
