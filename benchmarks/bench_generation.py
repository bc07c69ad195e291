"""Local generation: batched vs one at a time, and shared-prefix reuse on vs off, in one run.

Same prompts (support-triage messages with the example's system prompt), same greedy settings.
Prints sequences/s for each mode and the ratios; writes benchmarks/results/generation.json.
Usage: python benchmarks/bench_generation.py [--n 48] [--max-tokens 16] [--batch 48]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _results import save

from tuneworth.config.task import ModelConfig, load_task
from tuneworth.providers.base import ChatRequest
from tuneworth.providers.local.provider import LocalProvider

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--batch", type=int, default=48)
    args = ap.parse_args()
    task = load_task(ROOT / "examples" / "support-triage")
    lines = (ROOT / "examples" / "support-triage" / "data.jsonl").read_text().splitlines()[: args.n]
    msgs = [json.loads(x)["messages"][0]["content"] for x in lines]
    reqs = [
        ChatRequest(
            messages=({"role": "system", "content": task.prompt.system}, {"role": "user", "content": m}),
            max_tokens=args.max_tokens,
        )
        for m in msgs
    ]
    p = LocalProvider("smollm2-135m", ModelConfig())
    p.generate(reqs[:2])  # warm-up

    def timed(batch: int, reuse: bool) -> tuple[float, list[str]]:
        p.reuse_prefix = reuse
        t0 = time.perf_counter()
        texts: list[str] = []
        for i in range(0, len(reqs), batch):
            texts += [c.text for c in p.generate(reqs[i : i + batch])]
        return len(reqs) / (time.perf_counter() - t0), texts

    single, single_texts = timed(1, False)
    batched, batched_texts = timed(args.batch, False)
    reused, reused_texts = timed(args.batch, True)
    result = {
        "n": args.n,
        "max_tokens": args.max_tokens,
        "batch": args.batch,
        "one_at_a_time_seq_per_s": round(single, 3),
        "batched_seq_per_s": round(batched, 3),
        "batched_prefix_reuse_seq_per_s": round(reused, 3),
        "batched_vs_single": round(batched / single, 2),
        "batched_reuse_vs_single": round(reused / single, 2),
        "reuse_vs_batched": round(reused / batched, 2),
        "same_outputs_batched_vs_single": batched_texts == single_texts,
        "same_outputs_reuse_vs_batched": reused_texts == batched_texts,
    }
    save("generation", result)


if __name__ == "__main__":
    main()
