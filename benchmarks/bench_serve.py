"""``tuneworth serve``: chat throughput with 16 concurrent clients vs the same requests one by one, and
the time from ``jobs.create`` to ``running`` on an empty queue. Both through the official ``openai``
client against a real server process.

Usage: python benchmarks/bench_serve.py [--model smollm2-135m] [--clients 16] [--rounds 2]
       [--max-tokens 16,64] [--jobs 3]
Writes benchmarks/results/serve.json (one chat entry per --max-tokens value, the load average before
and after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test server helpers (tests/helpers/serve.py)

from tests.helpers.serve import Server, chat_rows, jsonl  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def prompts(n: int) -> list[list[dict[str, str]]]:
    lines = (ROOT / "examples" / "support-triage" / "data.jsonl").read_text().splitlines()
    system = "You triage support messages. Reply with one JSON object."
    return [[{"role": "system", "content": system},
             {"role": "user", "content": json.loads(lines[i % len(lines)])["messages"][0]["content"]}]
            for i in range(n)]


async def run_chat(server: Server, clients: int, rounds: int, max_tokens: int, model: str) -> dict[str, Any]:
    """Each round sends the same ``clients`` requests one by one, then all at once (one per client), so
    both modes see the same load on a shared machine; totals are summed over the rounds."""
    msgs = prompts(clients * rounds)
    c = server.async_client(timeout=1800, max_retries=0)
    sizes: list[int] = []
    tokens: list[int] = []

    async def one(m: list[dict[str, str]]) -> float:
        t0 = time.perf_counter()
        raw = await c.chat.completions.with_raw_response.create(model=model, messages=m, max_tokens=max_tokens,
                                                                 temperature=0)
        sizes.append(int(raw.headers["x-tuneworth-batch-size"]))
        tokens.append(raw.parse().usage.completion_tokens)
        return (time.perf_counter() - t0) * 1000

    await one(msgs[0])  # warm-up (model load)
    serial: list[float] = []
    conc: list[float] = []
    serial_s = conc_s = 0.0
    serial_sizes: list[int] = []
    conc_sizes: list[int] = []
    serial_tokens = conc_tokens = 0
    for r in range(rounds):
        batch = msgs[r * clients:(r + 1) * clients]
        sizes.clear()
        tokens.clear()
        t0 = time.perf_counter()
        serial += [await one(m) for m in batch]
        serial_s += time.perf_counter() - t0
        serial_sizes += sizes
        serial_tokens += sum(tokens)
        sizes.clear()
        tokens.clear()
        t0 = time.perf_counter()
        conc += await asyncio.gather(*(one(m) for m in batch))
        conc_s += time.perf_counter() - t0
        conc_sizes += sizes
        conc_tokens += sum(tokens)
        print(f"round {r + 1}/{rounds}: one by one {serial_s:.1f} s, concurrent {conc_s:.1f} s", file=sys.stderr,
              flush=True)
    n = clients * rounds
    return {
        "requests": n, "clients": clients, "rounds": rounds, "max_tokens": max_tokens,
        "one_by_one": {"seconds": round(serial_s, 2), "completion_tokens": serial_tokens,
                       "req_per_s": round(n / serial_s, 3), "p50_ms": round(pct(serial, 0.5)),
                       "p95_ms": round(pct(serial, 0.95)), "max_batch": max(serial_sizes)},
        "concurrent": {"seconds": round(conc_s, 2), "completion_tokens": conc_tokens,
                       "req_per_s": round(n / conc_s, 3), "p50_ms": round(pct(conc, 0.5)),
                       "p95_ms": round(pct(conc, 0.95)), "mean_batch": round(statistics.mean(conc_sizes), 2),
                       "max_batch": max(conc_sizes)},
        "speedup": round(serial_s / conc_s, 2),
    }


def run_jobs(server: Server, n: int, model: str) -> dict[str, Any]:
    c = server.client()
    f = c.files.create(file=("train.jsonl", jsonl(chat_rows(20))), purpose="fine-tune")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        job = c.fine_tuning.jobs.create(model=model, training_file=f.id, hyperparameters={"n_epochs": 1})
        while (status := c.fine_tuning.jobs.retrieve(job.id).status) not in ("running", "failed", "succeeded"):
            time.sleep(0.02)
        times.append(time.perf_counter() - t0)
        if status != "running":
            raise SystemExit(f"job ended {status} before it was seen running")
        c.fine_tuning.jobs.cancel(job.id)
        # The queue is empty again once the worker has stopped the cancelled job's training.
        while not any(e.message.startswith("Training stopped") for e in c.fine_tuning.jobs.list_events(job.id)):
            time.sleep(0.1)
    return {"create_to_running_s": [round(t, 3) for t in times], "max_s": round(max(times), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m", help="bundled name or HF directory")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of one request per client (0: skip chat)")
    ap.add_argument("--max-tokens", default="16,64", help="comma-separated: one chat measurement each")
    ap.add_argument("--jobs", type=int, default=3, help="jobs.create -> running measurements (0: skip)")
    ap.add_argument("--name", default="serve", help="results file: benchmarks/results/NAME.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        from tuneworth.paths import home

        server = Server(root / "data", Path(args.model), home())
        server.extra = ("--max-batch", str(args.clients))
        server.model_dir = args.model  # type: ignore[assignment]
        server.start()
        try:
            result: dict[str, Any] = {"model": args.model, "load_average_start": os.getloadavg()}
            if args.rounds:
                result["chat"] = []
                for max_tokens in (int(x) for x in args.max_tokens.split(",")):
                    print(f"chat throughput, max_tokens={max_tokens} ...", file=sys.stderr, flush=True)
                    result["chat"].append(asyncio.run(run_chat(server, args.clients, args.rounds, max_tokens,
                                                               "tiny")))
            if args.jobs:
                import importlib.util

                if importlib.util.find_spec("tuneworth.finetune") is None:
                    result["jobs"] = "skipped: the local trainer (issue 10) is not installed"
                else:
                    result["jobs"] = run_jobs(server, args.jobs, "tiny")
            result["load_average_end"] = os.getloadavg()
        finally:
            server.stop()
    import torch

    result["machine"] = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
                         "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"}
    save(args.name, result)


if __name__ == "__main__":
    main()
