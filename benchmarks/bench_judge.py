"""LLM-judge throughput on the bundled local model: one batched call vs one item at a time.

The judge scores the brand-voice calibration answers (pointwise, the example's rubric) with the
completion cache off, decoded as a local judge is in a climb: label scoring over "1".."5"
(``--decoding text`` for free generation of ``--max-tokens`` tokens and the text parser). Both
modes go through ``Judge.judge_many`` and the ``Model`` wrapper; only the batch size differs.
Prints judgements/s, the ratio, whether the verdicts agree, and the load average before and after;
writes benchmarks/results/judge.json.
Usage: python benchmarks/bench_judge.py [--n 25] [--batch 25] [--decoding choice|text] [--max-tokens 24]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _results import save

from tuneworth.config.rubric import load_rubric
from tuneworth.config.task import ModelConfig, load_task
from tuneworth.judge.judge import Judge
from tuneworth.providers.local.provider import LocalProvider
from tuneworth.providers.model import Model

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "brand-voice"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=25)
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--decoding", choices=["choice", "text"], default="choice")
    args = ap.parse_args()
    load_before = os.getloadavg()
    print(f"load average at start: {load_before}", flush=True)
    task = load_task(EXAMPLE)
    rubric = load_rubric(task)
    refs = {}
    for line in (EXAMPLE / "test.jsonl").read_text().splitlines():
        m = json.loads(line)["messages"]
        refs[m[0]["content"]] = m[1]["content"]
    rows = [json.loads(x) for x in (EXAMPLE / "calibration.jsonl").read_text().splitlines()][: args.n]
    items = [(r["input"], r["output"], refs[r["input"]]) for r in rows]
    provider = LocalProvider("smollm2-135m", ModelConfig())

    def timed(batch: int) -> tuple[float, list[object], int]:
        model = Model(provider, batch_size=batch, cache=None)
        judge = Judge(model, rubric, max_tokens=args.max_tokens, decoding=args.decoding)
        judge.judge_many(items[:2])  # warm-up
        t0 = time.perf_counter()
        out = judge.judge_many(items)
        seconds = time.perf_counter() - t0
        return len(items) / seconds, [j.verdicts[0] for j in out], sum(j.unparseable for j in out)

    single, single_verdicts, single_unparseable = timed(1)
    print(f"one at a time: {single:.3f} judgements/s", flush=True)
    batched, batched_verdicts, batched_unparseable = timed(args.batch)
    result = {
        "n": len(items),
        "decoding": args.decoding,
        "batch": args.batch,
        "max_tokens": args.max_tokens,
        "one_at_a_time_judgements_per_s": round(single, 3),
        "batched_judgements_per_s": round(batched, 3),
        "batched_vs_single": round(batched / single, 2),
        "same_verdicts": single_verdicts == batched_verdicts,
        "unparseable_one_at_a_time": single_unparseable,
        "unparseable_batched": batched_unparseable,
        "verdicts": batched_verdicts,
        "human": [r["human"] for r in rows],
        "load_average_start": [round(x, 2) for x in load_before],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    save("judge", result)


if __name__ == "__main__":
    main()
