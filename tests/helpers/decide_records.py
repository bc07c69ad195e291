"""Synthetic run records for the decision tests: real version-2 record files (record.json,
items.jsonl, summary.json with rows from the real ``summarize``), validated by the record's own
models before they are written, with chosen per-item scores per rung."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tuneworth.evaluate.summary import summarize
from tuneworth.record.schema import SCHEMA_VERSION, ItemResult, RunHeader, Summary

TITLES = {"L1": "L1 prompting", "L2": "L2 few-shot", "L3": "L3 RAG", "L4": "L4 fine-tuning"}
# The rung metadata the real rungs record (rungs/base.py): what decide/ and report/ read instead of names.
META: dict[str, dict[str, Any]] = {
    "L1": {"order": 1, "cost_class": "prompt"},
    "L2": {"order": 2, "cost_class": "prompt"},
    "L3": {"order": 3, "cost_class": "retrieval", "fixes": "knowledge"},
    "L4": {"order": 4, "cost_class": "training", "trains": True},
}


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def scores_with(n: int, rate: float, seed: int) -> list[float]:
    """n pass/fail scores with exactly round(rate * n) passes, in a seeded order."""
    k = round(rate * n)
    s = [1.0] * k + [0.0] * (n - k)
    random.Random(seed).shuffle(s)
    return s


def improve(base: list[float], gain: int, seed: int) -> list[float]:
    """``base`` with ``gain`` failures turned into passes (a paired improvement)."""
    out = list(base)
    fails = [i for i, v in enumerate(out) if v == 0.0]
    for i in random.Random(seed).sample(fails, gain):
        out[i] = 1.0
    return out


def write_run(
    run_dir: Path,
    scores: dict[str, list[float]],
    *,
    metric: str = "accuracy",
    model: str = "openai/gpt-4o-mini",
    tokens: dict[str, tuple[float, float]] | None = None,
    economics: dict[str, Any] | None = None,
    decision: dict[str, Any] | None = None,
    n_train: int = 400,
    extra: dict[str, Any] | None = None,
    validation: dict[str, list[dict[str, Any]]] | None = None,
    outputs: dict[str, list[str]] | None = None,
    models: dict[str, str] | None = None,
) -> Path:
    run_dir.mkdir(parents=True)
    tokens = tokens or {}
    n_test = len(next(iter(scores.values())))
    ids = [f"data.jsonl:{i + 1}" for i in range(n_test)]
    items: list[dict[str, Any]] = []
    rows = []
    rungs_info: dict[str, Any] = {}
    for name, vals in scores.items():
        pin, pout = tokens.get(name, (100.0, 10.0))
        these = []
        for i, (item_id, v) in enumerate(zip(ids, vals, strict=True)):
            these.append(
                {
                    "rung": name,
                    "phase": "test",
                    "config": {"variant": "base"},
                    "item_id": item_id,
                    "output": (outputs or {}).get(name, [f"{name} answer {i}"] * n_test)[i],
                    "score": v,
                    "valid": v > 0,
                    "prompt_tokens": pin,
                    "completion_tokens": pout,
                    "latency_ms": 800.0 + 100 * (i // 8),  # batches of 8 share a wall time
                    "error": None,
                    "finish_reason": "stop",
                    "details": {},
                    "cached": False,
                    "input": f"question {i}",
                    "gold": f"gold {i}",
                }
            )
        items += these
        row = summarize(name, TITLES.get(name, name), {"variant": "base"}, these, metric, 13)
        row.update(META.get(name, {}))
        row["seconds"] = 10.0
        if models and name in models:  # a model per rung (model.rungs)
            row["model"] = models[name]
        rows.append(row)
        rungs_info[name] = {
            "chosen": {"variant": "base"},
            "validation": (validation or {}).get(
                name, [{"config": {"variant": "base"}, "score": row["score"]}]
            ),
            "notes": [],
            "system_prompt": "You label things.",
            "seconds": 10.0,
            "model": {"spec": (models or {}).get(name, model), "id": (models or {}).get(name, model)},
            "title": TITLES.get(name, name),
            **META.get(name, {}),
        }
    header = {
        "schema_version": SCHEMA_VERSION,
        "status": "finished",
        "tuneworth_version": "0.1.0",
        "task": "synthetic",
        "config": {
            "name": "synthetic",
            "economics": {"human_hourly_rate": 100.0, **(economics or {})},
            "decision": decision or {},
        },
        "seed": 13,
        "model": {"spec": model, "id": model},
        "data": {
            "files": {"path": "data.jsonl"},
            "sizes": {"train": n_train, "validation": 50, "test": n_test},
            "fingerprints": {},
            "test_ids": ids,
            "validation_ids": [],
        },
        "metric": metric,
        "rungs": rungs_info,
        "started_at": 0.0,
        "python": "3.11",
        "seconds": 60.0,
        **(extra or {}),
    }
    write_json(run_dir / "record.json", RunHeader.model_validate(header).model_dump(mode="json"))
    with (run_dir / "items.jsonl").open("w", encoding="utf-8") as f:
        for it in items:
            f.write(ItemResult.model_validate(it).model_dump_json() + "\n")
    summary = {
        "schema_version": SCHEMA_VERSION,
        "task": "synthetic",
        "model": model,
        "metric": metric,
        "sizes": header["data"]["sizes"],
        "rungs": rows,
        **({"models": models} if models else {}),
    }
    write_json(run_dir / "summary.json", Summary.model_validate(summary).model_dump(mode="json"))
    return run_dir
