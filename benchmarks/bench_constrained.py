"""Free vs constrained decoding on the bundled model: validity, score (95% intervals), items/s.

1. ``--part triage``: the bundled example (support-triage, JSON) on its test items, and label-scoring
   throughput: support-triage's category as a 10-label task (its 7 categories plus 3 distractor
   labels), label scoring (``choice``) vs free generation of the same items.
2. ``--part restaurant``: restaurant8k (../shared, converted by ``benchmarks/restaurant8k.py``) as
   JSON slot extraction; train = the first ``--train`` training utterances (demonstrations), test = a
   seeded sample of ``--n`` utterances of its test split.
Each dataset runs under L1 (the ``format`` prompt) and L2 (``--k`` nearest demonstrations), each
decoded freely and with the JSON Schema (llguidance): validity rate (Wilson interval), score (the
metric's interval: Wilson for pass/fail, bootstrap otherwise, ``stats.intervals.mean_interval``), the
paired difference constrained - free (exact McNemar on validity, paired bootstrap on the score),
items/s and the constrained/free items/s ratio. All through the real Evaluator and local provider,
completion cache off, one process (ratios are within one run); load average at start and end.
3. ``--part labels``: the 10-label task only, label scoring (tree-shaped attention over the labels,
   ``decoding/choice.py``) vs the copy-per-label baseline (session 3's method, in this file) vs free
   generation, same items, one process; checks both scorings choose the same labels.
Usage: python benchmarks/bench_constrained.py --part triage|restaurant|labels [--n 40] [--k 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _results import save
from restaurant8k import SHARED, SYSTEM, convert

from tuneworth.config.task import ModelConfig, Task, load_task
from tuneworth.decoding.plan import with_decoding
from tuneworth.evaluate.metrics import BINARY
from tuneworth.evaluate.runner import Evaluator
from tuneworth.providers.local.provider import LocalProvider
from tuneworth.providers.model import Model
from tuneworth.run.climb import load_split
from tuneworth.rungs.base import RunContext, Strategy
from tuneworth.rungs.fewshot import FewShotRung
from tuneworth.rungs.prompting import PromptingRung
from tuneworth.stats.intervals import mean_interval, wilson
from tuneworth.stats.paired import mcnemar_exact, paired_bootstrap

ROOT = Path(__file__).resolve().parents[1]
SLOTS = ["date", "time", "people", "first_name", "last_name"]
DISTRACTORS = ["spam", "legal", "other"]


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def restaurant_task(work: Path, n_test: int, n_train: int, seed: int) -> Path:
    """restaurant8k as a JSON slot-extraction task: ``n_train`` train utterances, ``n_test`` sampled test ones."""
    work.mkdir(parents=True, exist_ok=True)
    convert("train", work / "train.jsonl", limit=n_train)
    full = convert("test", work / "test-all.jsonl").read_text(encoding="utf-8").splitlines()
    sample = sorted(random.Random(seed).sample(range(len(full)), n_test))
    (work / "test.jsonl").write_text("".join(full[i] + "\n" for i in sample), encoding="utf-8")
    props = {s: {"type": "string", "maxLength": 40} for s in SLOTS}
    (work / "schema.json").write_text(
        json.dumps({"type": "object", "properties": props, "additionalProperties": False}), encoding="utf-8"
    )
    (work / "tuneworth.toml").write_text(
        f'name = "restaurant8k"\nmetric = "field_accuracy"\nseed = {seed}\n'
        '[data]\ntrain = "train.jsonl"\ntest = "test.jsonl"\nvalidation_size = 16\n'
        f"[prompt]\nsystem = {json.dumps(SYSTEM)}\n"
        '[output]\nkind = "json"\nschema = "schema.json"\n[model]\nmax_tokens = 40\nbatch_size = 48\n',
        encoding="utf-8",
    )
    return work


def run(ev: Evaluator, strategy: Strategy, items: list[Any], metric: str, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    [results] = ev.run([strategy], items, "test")
    seconds = time.perf_counter() - t0
    rows = [r.model_dump() for r in results]
    scored = [r for r in rows if r["error"] is None and r["score"] is not None]
    values = [float(r["score"]) for r in scored]
    valid = sum(1 for r in scored if r["valid"])
    v_lo, v_hi = wilson(valid, len(scored)) if scored else (0.0, 0.0)
    s_lo, s_hi, method = mean_interval(values, binary=metric in BINARY, seed=seed)
    return {
        "config": strategy.config,
        "decoding": strategy.decoding,
        "n": len(scored),
        "validity_rate": round(valid / len(scored), 4) if scored else None,
        "validity_ci": [round(v_lo, 3), round(v_hi, 3)],
        "score": round(sum(values) / len(values), 4) if values else None,
        "score_ci": [round(s_lo, 3), round(s_hi, 3)],
        "score_ci_method": method,
        "errors": len(rows) - len(scored),
        "seconds": round(seconds, 1),
        "items_per_s": round(len(items) / seconds, 3),
        "prompt_tokens_mean": round(sum(r["prompt_tokens"] for r in rows) / len(rows), 1),
        "completion_tokens_mean": round(sum(r["completion_tokens"] for r in rows) / len(rows), 1),
        "_rows": {r["item_id"]: r for r in rows},
    }


def paired(free: dict[str, Any], other: dict[str, Any], seed: int) -> dict[str, Any]:
    """Constrained - free on the same items: exact McNemar on validity, paired bootstrap on the score."""
    ids = [i for i, r in free["_rows"].items() if r["score"] is not None and other["_rows"][i]["score"] is not None]
    a = [free["_rows"][i] for i in ids]
    b = [other["_rows"][i] for i in ids]
    only_free = sum(1 for x, y in zip(a, b, strict=True) if x["valid"] and not y["valid"])
    only_other = sum(1 for x, y in zip(a, b, strict=True) if y["valid"] and not x["valid"])
    diff, lo, hi, p, _resolution = paired_bootstrap([x["score"] for x in a], [y["score"] for y in b], seed=seed)
    return {
        "pairs": len(ids),
        "validity_discordant": {"only_free_valid": only_free, "only_constrained_valid": only_other},
        "validity_mcnemar_p": round(mcnemar_exact(only_free, only_other), 5),
        "score_diff": round(diff, 4),
        "score_diff_ci": [round(lo, 3), round(hi, 3)],
        "score_diff_p": round(p, 4),
    }


def public(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if not k.startswith("_")}


def compare(task: Task, model: Model, k: int, n: int) -> dict[str, Any]:
    split, _ = load_split(task)
    items = split.test[:n]
    schema = task.json_schema()
    ctx = RunContext(task, split, schema, model.count_tokens)
    ev = Evaluator(ctx, model)
    l1 = next(s for s in PromptingRung().strategies(ctx) if s.config["variant"] == "format")
    ctx.chosen["L1"] = l1
    l2 = FewShotRung().strategy(ctx, k, "nearest")
    out: dict[str, Any] = {"n_test": len(items), "n_train": len(split.train)}
    for rung, base in (("L1", l1), ("L2", l2)):
        free = run(ev, base, items, task.primary_metric, task.seed)
        constrained = run(ev, with_decoding(base, "schema", None, schema), items, task.primary_metric, task.seed)
        out[rung] = {
            "free": public(free),
            "schema": public(constrained),
            "paired_schema_minus_free": paired(free, constrained, task.seed),
            "items_per_s_ratio_schema_vs_free": round(constrained["items_per_s"] / free["items_per_s"], 3),
        }
        print(task.name, rung, json.dumps(out[rung]), flush=True)
    return out


def label_throughput(task: Task, model: Model, n: int) -> dict[str, Any]:
    """support-triage's category as a 10-label task: label scoring vs free generation of the same items."""
    split, _ = load_split(task)
    items = split.test[:n]
    categories = task.json_schema()["properties"]["category"]["enum"]
    labels = [*categories, *DISTRACTORS]
    label_task = task.model_copy(
        update={"output": task.output.model_copy(update={"kind": "label", "labels": labels, "schema_": None}), "metric": None}
    )
    relabelled = [dataclasses.replace(ex, output=json.loads(ex.output)["category"]) for ex in items]
    ctx = RunContext(label_task, split, None, model.count_tokens)
    ev = Evaluator(ctx, model)
    fmt = next(s for s in PromptingRung().strategies(ctx) if s.config["variant"] == "format")
    # Free generation gets room for the longest label (and a little chatter), not the JSON budget.
    fmt.max_tokens = 8
    free = run(ev, fmt, relabelled, "accuracy", task.seed)
    choice = run(ev, with_decoding(fmt, "choice", labels, None), relabelled, "accuracy", task.seed)
    out = {
        "labels": labels,
        "free_max_tokens": fmt.max_tokens,
        "free": public(free),
        "choice": public(choice),
        "paired_choice_minus_free": paired(free, choice, task.seed),
        "items_per_s_ratio_choice_vs_free": round(choice["items_per_s"] / free["items_per_s"], 3),
        "_choice_rows": choice["_rows"],
    }
    print("labels", json.dumps({k: v for k, v in out.items() if k != "_choice_rows"}), flush=True)
    return out


def score_labels_copy_per_label(
    model: Any,
    input_ids: Any,
    attention_mask: Any,
    cache: Any,
    label_ids: Sequence[Sequence[int]],
    pad_token_id: int,
) -> list[list[float]]:
    """The previous label scoring (session 3), kept here as the baseline: the rows' prompt KV cache
    is copied once per label (``repeat_interleave``) and every (row, label) pair is its own sequence.
    Mean log-probability of every label for every row of a left-padded prompt batch.

    ``cache`` holds the prompts' keys and values for all tokens but the last (right-aligned, as the
    local provider's prefill builds it), or is None to compute it here. Returns ``[row][label]``.
    """
    import torch
    from transformers import DynamicCache

    device = input_ids.device
    n_rows, n_labels = input_ids.shape[0], len(label_ids)
    if cache is None:
        from tuneworth.decoding.choice import prefill

        cache = prefill(model, input_ids, attention_mask)
    width = 1 + max(len(ids) for ids in label_ids)
    # Each forward pass takes whole prompts (all their labels) up to MAX_ROWS (prompt, label) rows.
    per_pass = max(1, 64 // n_labels)
    scores: list[list[float]] = []
    for start in range(0, n_rows, per_pass):
        rows = list(range(start, min(n_rows, start + per_pass)))
        # This pass's rows, each repeated once per label (copies only these rows, not the batch).
        index = torch.tensor(rows, device=device)
        sub = DynamicCache(config=model.config)
        for layer_no, layer in enumerate(cache.layers):
            sub.update(
                layer.keys[index].repeat_interleave(n_labels, dim=0),
                layer.values[index].repeat_interleave(n_labels, dim=0),
                layer_no,
            )
        prompt_mask = attention_mask[rows].repeat_interleave(n_labels, dim=0)
        last = input_ids[rows, -1:].repeat_interleave(n_labels, dim=0)
        cont = torch.full((len(rows) * n_labels, width - 1), pad_token_id, dtype=torch.long, device=device)
        cont_mask = torch.zeros_like(cont)
        for r in range(len(rows)):
            for j, ids in enumerate(label_ids):
                cont[r * n_labels + j, : len(ids)] = torch.tensor(ids, dtype=torch.long, device=device)
                cont_mask[r * n_labels + j, : len(ids)] = 1
        mask = torch.cat([prompt_mask, cont_mask], dim=1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -width:]
        with torch.inference_mode():
            logits = model(
                input_ids=torch.cat([last, cont], dim=1),
                attention_mask=mask,
                position_ids=positions,
                cache=sub,
                use_cache=True,
            ).logits.float()
        # Position t predicts continuation token t: the last prompt token predicts the label's first.
        logprobs = logits[:, :-1].log_softmax(-1).gather(-1, cont.unsqueeze(-1)).squeeze(-1)
        totals = (logprobs * cont_mask).sum(-1) / cont_mask.sum(-1)
        for r in range(len(rows)):
            scores.append(totals[r * n_labels : (r + 1) * n_labels].tolist())
    return scores


def label_scoring_vs_copy(task: Task, model: Model, n: int) -> dict[str, Any]:
    """The 10-label task with the tree-mask label scoring (ours) vs the copy-per-label baseline, and
    free generation, on the same items in one process: items/s, and both choose the same labels (their
log-probabilities are equal to a naive forward pass per label: tests/test_decoding_choice.py)."""
    from tuneworth.decoding import choice as choice_mod

    label_throughput(task, model, 2)  # warm-up (first calls load and allocate), not reported
    out = label_throughput(task, model, n)
    ours = out.pop("_choice_rows")
    original = choice_mod.score_labels
    choice_mod.score_labels = score_labels_copy_per_label
    try:
        split, _ = load_split(task)
        items, labels = split.test[:n], out["labels"]
        label_task = task.model_copy(
            update={"output": task.output.model_copy(update={"kind": "label", "labels": labels, "schema_": None}), "metric": None}
        )
        relabelled = [dataclasses.replace(ex, output=json.loads(ex.output)["category"]) for ex in items]
        ctx = RunContext(label_task, split, None, model.count_tokens)
        fmt = next(s for s in PromptingRung().strategies(ctx) if s.config["variant"] == "format")
        copy = run(Evaluator(ctx, model), with_decoding(fmt, "choice", labels, None), relabelled, "accuracy", task.seed)
    finally:
        choice_mod.score_labels = original
    same = sum(1 for i, r in ours.items() if r["output"] == copy["_rows"][i]["output"])
    out["copy_per_label"] = public(copy)
    out["same_label_chosen"] = f"{same}/{len(ours)}"
    out["items_per_s_ratio_choice_vs_copy_per_label"] = round(out["choice"]["items_per_s"] / copy["items_per_s"], 3)
    print("labels vs copy", json.dumps({k: v for k, v in out.items() if k != "labels"}), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["triage", "restaurant", "labels"], required=True)
    ap.add_argument("--n", type=int, default=40, help="test items per variant")
    ap.add_argument("--k", type=int, default=4, help="L2 demonstrations (nearest)")
    ap.add_argument("--train", type=int, default=600, help="restaurant8k train utterances (demonstration pool)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", default=None, help="results name (default constrained_<part>)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    result: dict[str, Any] = {"part": args.part, "n": args.n, "k": args.k, "load_average_start": load()}
    triage = load_task(ROOT / "examples" / "support-triage")
    model = Model(LocalProvider("smollm2-135m", ModelConfig()), batch_size=triage.model.batch_size)
    result["model"] = model.model_id
    if args.part == "triage":
        result["support_triage"] = compare(triage, model, args.k, args.n)
        result["label_scoring_10_labels"] = label_throughput(triage, model, args.n)
        result["label_scoring_10_labels"].pop("_choice_rows")
    elif args.part == "labels":
        result["label_scoring_10_labels"] = label_scoring_vs_copy(triage, model, args.n)
    else:
        if not (SHARED / "test.json").is_file():
            raise SystemExit(f"{SHARED} not present")
        with tempfile.TemporaryDirectory(prefix="tuneworth-r8k-") as tmp:
            task = load_task(restaurant_task(Path(tmp), args.n, args.train, args.seed))
            result["restaurant8k"] = {"seed": args.seed, **compare(task, model, args.k, args.n)}
    result["load_average_end"] = load()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    save(args.out or f"constrained_{args.part}", result)


if __name__ == "__main__":
    main()
