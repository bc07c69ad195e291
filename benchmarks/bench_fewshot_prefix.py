"""L2 few-shot on the bundled local model: shared-prefix KV reuse on vs off, in one run.

The real L2 strategy (support-triage, k stratified demonstrations: one fixed set for every item,
so system prompt + demonstrations are a prefix shared by the whole batch), greedy, same batch.
With reuse the prefix's KV cache is computed once per batch; without it every row prefills it.
Prints items/s for both and the ratio, checks the outputs are identical; writes
benchmarks/results/fewshot_prefix.json.
Usage: python benchmarks/bench_fewshot_prefix.py [--n 24] [--k 4] [--max-tokens 16] [--batch 24]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _results import save

from tuneworth.config.task import ModelConfig, load_task
from tuneworth.providers.local.provider import LocalProvider
from tuneworth.run.climb import load_split
from tuneworth.rungs.base import RunContext
from tuneworth.rungs.fewshot import FewShotRung

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--batch", type=int, default=24)
    args = ap.parse_args()
    load_start = [round(x, 2) for x in os.getloadavg()]
    task = load_task(ROOT / "examples" / "support-triage")
    split, _ = load_split(task)
    p = LocalProvider("smollm2-135m", ModelConfig())
    ctx = RunContext(task, split, task.json_schema(), p.count_tokens)
    strategy = FewShotRung().strategy(ctx, args.k, "stratified")
    items = (split.validation + split.test)[: args.n]
    reqs = [strategy.request(ex, task) for ex in items]
    reqs = [r.__class__(**{**r.__dict__, "max_tokens": args.max_tokens}) for r in reqs]
    prefix_tokens = p.count_tokens("".join(m["content"] for m in reqs[0].messages[:-1]))
    p.generate(reqs[:2])  # warm-up

    def timed(reuse: bool) -> tuple[float, list[str]]:
        p.reuse_prefix = reuse
        t0 = time.perf_counter()
        texts: list[str] = []
        for i in range(0, len(reqs), args.batch):
            texts += [c.text for c in p.generate(reqs[i : i + args.batch])]
        return len(reqs) / (time.perf_counter() - t0), texts

    plain, plain_texts = timed(False)
    reused, reused_texts = timed(True)
    result = {
        "n": len(reqs),
        "k": args.k,
        "selection": "stratified",
        "shared_prefix_tokens": prefix_tokens,
        "max_tokens": args.max_tokens,
        "batch": args.batch,
        "no_reuse_items_per_s": round(plain, 3),
        "prefix_reuse_items_per_s": round(reused, 3),
        "speedup": round(reused / plain, 2),
        "outputs_identical": plain_texts == reused_texts,
        "load_average_start": load_start,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    save("fewshot_prefix", result)


if __name__ == "__main__":
    main()
