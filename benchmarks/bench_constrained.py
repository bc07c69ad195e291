"""Free vs constrained decoding on the bundled model: validity, score (95% intervals), items/s.

1. support-triage (bundled example) and restaurant8k (../shared, slot extraction as JSON): the same
   test items under L1 (the ``format`` prompt) and L2 (k nearest demonstrations), each decoded freely
   and with the JSON Schema (llguidance); validity rate with a Wilson interval, score with the metric's
   interval, items/s and the constrained/free items/s ratio.
2. Label scoring throughput: support-triage's category as a 10-label task (its 7 categories plus 3
   distractor labels), label scoring vs free generation of the same items.
All through the real Evaluator and local provider, completion cache off, one process (ratios are
within one run). Usage: python benchmarks/bench_constrained.py [--n 40] [--k 4] [--skip-restaurant]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from _results import save

from tuneworth.climb import load_split
from tuneworth.decoding.plan import with_decoding
from tuneworth.evaluate.runner import Evaluator
from tuneworth.evaluate.stats import wilson
from tuneworth.evaluate.summary import summarize
from tuneworth.models.local import LocalProvider
from tuneworth.models.model import Model
from tuneworth.rungs.base import RunContext, Strategy
from tuneworth.rungs.fewshot import FewShotRung
from tuneworth.rungs.prompting import PromptingRung
from tuneworth.task import ModelConfig, Task, load_task

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "restaurant8k"
SLOTS = ["date", "time", "people", "first_name", "last_name"]


def restaurant_task(work: Path, n_train: int = 600) -> Path:
    """restaurant8k's first ``n_train`` training utterances as a JSON slot-extraction task."""
    work.mkdir(parents=True, exist_ok=True)
    items = json.loads((SHARED / "train.json").read_text(encoding="utf-8"))[:n_train]
    with (work / "data.jsonl").open("w", encoding="utf-8") as f:
        for it in items:
            text = it["userInput"]["text"]
            gold = {
                lab["slot"]: text[lab["valueSpan"].get("startIndex", 0) : lab["valueSpan"]["endIndex"]]
                for lab in it.get("labels", [])
            }
            msgs = [{"role": "user", "content": text}, {"role": "assistant", "content": json.dumps(gold)}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    props = {s: {"type": "string", "maxLength": 40} for s in SLOTS}
    (work / "schema.json").write_text(
        json.dumps({"type": "object", "properties": props, "additionalProperties": False}), encoding="utf-8"
    )
    (work / "tuneworth.toml").write_text(
        'name = "restaurant8k"\nmetric = "field_accuracy"\n[data]\npath = "data.jsonl"\n'
        "validation_size = 16\ntest_size = 40\n"
        '[prompt]\nsystem = "Extract the restaurant booking details the user gives (date, time, number of '
        'people, first and last name). Leave out what they do not say."\n'
        '[output]\nkind = "json"\nschema = "schema.json"\n[model]\nmax_tokens = 40\nbatch_size = 48\n',
        encoding="utf-8",
    )
    return work


def run(ev: Evaluator, strategy: Strategy, items: list[Any], metric: str, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    [results] = ev.run([strategy], items, "test")
    seconds = time.perf_counter() - t0
    rows = [r.to_dict() for r in results]
    row = summarize(strategy.rung, strategy.rung, strategy.config, rows, metric, seed)
    scored = [r for r in rows if r["score"] is not None]
    valid = sum(1 for r in scored if r["valid"])
    v_lo, v_hi = wilson(valid, len(scored)) if scored else (0.0, 0.0)
    return {
        "config": strategy.config,
        "decoding": row["decoding"],
        "n": row["n"],
        "validity_rate": row["validity_rate"],
        "validity_ci": [round(v_lo, 3), round(v_hi, 3)],
        "score": round(row["score"], 4) if row["score"] is not None else None,
        "score_ci": [round(row["ci_low"], 3), round(row["ci_high"], 3)] if row["n"] else None,
        "errors": row["errors"],
        "seconds": round(seconds, 1),
        "items_per_s": round(len(items) / seconds, 3),
        "completion_tokens_mean": row["completion_tokens_mean"],
    }


def compare(task: Task, model: Model, k: int, n: int) -> dict[str, Any]:
    split, _ = load_split(task)
    items = split.test[:n]
    schema = task.json_schema()
    ctx = RunContext(task, split, schema, model.count_tokens)
    ev = Evaluator(ctx, model)
    l1 = next(s for s in PromptingRung().strategies(ctx) if s.config["variant"] == "format")
    ctx.chosen["L1"] = l1
    l2 = FewShotRung().strategy(ctx, k, "nearest")
    out: dict[str, Any] = {}
    for rung, base in (("L1", l1), ("L2", l2)):
        free = run(ev, base, items, task.primary_metric, task.seed)
        constrained = run(ev, with_decoding(base, "schema", None, schema), items, task.primary_metric, task.seed)
        out[rung] = {
            "free": free,
            "schema": constrained,
            "items_per_s_ratio_schema_vs_free": round(constrained["items_per_s"] / free["items_per_s"], 3),
        }
        print(task.name, rung, json.dumps(out[rung]), flush=True)
    return out


def label_throughput(task: Task, model: Model, n: int) -> dict[str, Any]:
    """support-triage's category as a 10-label task: label scoring vs free generation."""
    split, _ = load_split(task)
    items = split.test[:n]
    labels = ["billing", "shipping", "returns", "account", "technical", "product", "feedback", "spam", "legal", "other"]
    label_task = task.model_copy(
        update={"output": task.output.model_copy(update={"kind": "label", "labels": labels, "schema_": None}), "metric": None}
    )
    relabelled = [dataclasses.replace(ex, output=json.loads(ex.output)["category"]) for ex in items]
    ctx = RunContext(label_task, split, None, model.count_tokens)
    ev = Evaluator(ctx, model)
    fmt = next(s for s in PromptingRung().strategies(ctx) if s.config["variant"] == "format")
    fmt.max_tokens = 8
    free = run(ev, fmt, relabelled, "accuracy", task.seed)
    choice = run(ev, with_decoding(fmt, "choice", labels, None), relabelled, "accuracy", task.seed)
    out = {
        "labels": len(labels),
        "free_max_tokens": fmt.max_tokens,
        "free": free,
        "choice": choice,
        "items_per_s_ratio_choice_vs_free": round(choice["items_per_s"] / free["items_per_s"], 3),
    }
    print("labels", json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--skip-restaurant", action="store_true")
    args = ap.parse_args()
    triage = load_task(ROOT / "examples" / "support-triage")
    model = Model(LocalProvider("smollm2-135m", ModelConfig()), batch_size=triage.model.batch_size)
    result: dict[str, Any] = {"n": args.n, "k": args.k, "model": model.model_id}
    result["label_scoring_10_labels"] = label_throughput(triage, model, args.n)
    result["support_triage"] = compare(triage, model, args.k, args.n)
    if not args.skip_restaurant and (SHARED / "train.json").is_file():
        result["restaurant8k"] = compare(load_task(restaurant_task(Path("/tmp/tuneworth-r8k"))), model, args.k, args.n)
    save("constrained", result)


if __name__ == "__main__":
    main()
